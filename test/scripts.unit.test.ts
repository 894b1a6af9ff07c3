// bashScript, the frame of every script the stack runs on a node (components/scripts.ts): strict
// bash with log/fail naming the step and node, then the admin kubeconfig, seal, setup and body.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { ADMIN_KUBECONFIG, bashScript } from "../components/scripts";

describe("bashScript", () => {
  it("frames the body in strict bash, with the parts asked for in a fixed order", () => {
    const script = bashScript({
      step: "demo",
      node: "worker-1",
      admin: true,
      sealFor: "PEM",
      setup: ["X=1"],
      body: ['log "x is $X"'],
    });
    const lines = script.split("\n");
    assert.deepEqual(lines.slice(0, 4), ["#!/usr/bin/env bash", "set -euo pipefail", "STEP='demo'", "NODE='worker-1'"]);
    const at = (line: string) => lines.indexOf(line);
    assert.ok(at(`export KUBECONFIG=${ADMIN_KUBECONFIG}`) > 3);
    assert.ok(at("seal() {") > at(`export KUBECONFIG=${ADMIN_KUBECONFIG}`));
    assert.ok(at("X=1") > at("seal() {"));
    assert.equal(lines.at(-2), 'log "x is $X"');
    assert.equal(lines.at(-1), "", "ends in a newline");
  });

  it("leaves out the admin kubeconfig and seal unless asked; log and fail name the step and node", () => {
    const script = bashScript({
      step: "demo",
      node: "n'1",
      body: ['log "hello"', 'fail "broken"', "echo unreachable"],
    });
    assert.doesNotMatch(script, /KUBECONFIG|seal\(\)/);
    const run = spawnSync("bash", ["-c", script], { encoding: "utf8" });
    assert.equal(run.status, 1);
    assert.equal(run.stdout, "");
    assert.equal(run.stderr, "podnet demo n'1: hello\npodnet demo n'1: ERROR: broken\n");
  });
});
