// A failed lab run keeps its evidence: teardown with keepEvidenceIn copies each node's
// plugin log, the runtime's CNI calls, the conflist and the IPAM store, and dumps each
// node's addresses, routes and rules while its namespace still exists, then removes every
// namespace and the run dir as always. A small lab-shaped state is made by hand here (a
// node namespace with an address and a rule, a router, the run dir's files); no plugin runs.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EVIDENCE_ROOT, evidenceDirFor } from "../lab/evidence";
import { runDirOf } from "../lab/labPlan";
import { CniCallError, CniRuntime } from "../lab/libcni";
import { listNetns, teardown, writeState } from "../lab/state";

const ip = (...args: string[]) => {
  const ran = spawnSync("ip", args, { encoding: "utf8" });
  if (ran.status !== 0) throw new Error(`ip ${args.join(" ")}: ${ran.stderr}`);
};

describe("a failed lab keeps its evidence (teardown keepEvidenceIn) @root", function () {
  this.timeout(30_000);
  const prefix = `pnev${randomBytes(2).toString("hex")}`;
  const node = `${prefix}-worker-1`;
  const router = `${prefix}-router`;
  const pod = `${prefix}-worker-1-web`;
  let evidence = "";

  before(function () {
    if (process.getuid?.() !== 0) assert.fail("this test creates network namespaces: run it as root (sudo npm test)");
    evidence = join(mkdtempSync(join(tmpdir(), "podnet-evidence-")), "kept");
    for (const ns of [node, router, pod]) ip("netns", "add", ns);
    ip("-n", node, "link", "add", "cni0", "type", "bridge");
    ip("-n", node, "addr", "add", "10.244.1.1/24", "dev", "cni0");
    ip("-n", router, "link", "set", "lo", "up");
    const rule = spawnSync("ip", [
      "netns",
      "exec",
      node,
      "iptables",
      "-A",
      "FORWARD",
      "-m",
      "comment",
      "--comment",
      "evidence-test-rule",
      "-j",
      "ACCEPT",
    ]);
    assert.equal(rule.status, 0, String(rule.stderr));
    const dir = join(runDirOf(prefix), "nodes", "worker-1");
    mkdirSync(join(dir, "net.d"), { recursive: true });
    writeFileSync(join(dir, "podnet.log"), '{"verb":"ADD","result":"error","msg":"the plugin failed here"}\n');
    writeFileSync(join(dir, "cni-calls.log"), '{"verb":"ADD","plugin":"podnet","status":1}\n');
    writeFileSync(join(dir, "net.d", "10-podnet.conflist"), '{"name":"podnet"}\n');
    writeState({
      prefix,
      controllerPid: process.pid,
      startedAt: new Date().toISOString(),
      keep: false,
      workers: 2,
      namespaces: [pod, node, router],
      pids: [],
    });
  });

  after(() => {
    for (const ns of [pod, node, router]) spawnSync("ip", ["netns", "del", ns]);
    rmSync(runDirOf(prefix), { recursive: true, force: true });
    if (evidence) rmSync(join(evidence, ".."), { recursive: true, force: true });
  });

  it("copies the logs and dumps the nodes, then removes every namespace and the run dir", async () => {
    const report = await teardown(prefix, { keepEvidenceIn: evidence });
    assert.deepEqual(report.problems, []);
    assert.equal(report.evidenceDir, evidence);
    // removed, as in any teardown
    assert.deepEqual(
      listNetns().filter((n) => n.startsWith(`${prefix}-`)),
      [],
    );
    assert.equal(existsSync(runDirOf(prefix)), false);
    // kept
    const kept = join(evidence, "nodes", "worker-1");
    assert.match(readFileSync(join(kept, "podnet.log"), "utf8"), /the plugin failed here/);
    assert.match(readFileSync(join(kept, "cni-calls.log"), "utf8"), /"plugin":"podnet"/);
    assert.match(readFileSync(join(kept, "net.d", "10-podnet.conflist"), "utf8"), /podnet/);
    const network = readFileSync(join(kept, "network.txt"), "utf8");
    assert.match(network, /### ip -d addr\n[\s\S]*inet 10\.244\.1\.1\/24/);
    assert.match(network, /### iptables-save\n[\s\S]*evidence-test-rule/);
    assert.match(readFileSync(join(evidence, "router.txt"), "utf8"), /### ip addr\n[\s\S]*lo:/);
    assert.match(readFileSync(join(evidence, "state.json"), "utf8"), new RegExp(`"prefix": "${prefix}"`));
  });

  it("a teardown without it keeps nothing", async () => {
    ip("netns", "add", node);
    mkdirSync(join(runDirOf(prefix), "nodes", "worker-1"), { recursive: true });
    const report = await teardown(prefix);
    assert.equal(report.evidenceDir, undefined);
    assert.equal(existsSync(runDirOf(prefix)), false);
    assert.deepEqual(
      listNetns().filter((n) => n.startsWith(`${prefix}-`)),
      [],
    );
  });

  it("the lab's runtime logs every plugin call: what it sent, and how a failure ended", async () => {
    const dir = mkdtempSync(join(tmpdir(), "podnet-calllog-"));
    ip("netns", "add", node);
    try {
      const plugin = join(dir, "fake");
      writeFileSync(
        plugin,
        `#!/bin/sh
case "$CNI_COMMAND" in
  VERSION) echo '{"cniVersion":"1.0.0","supportedVersions":["1.0.0"]}' ;;
  *) echo '{"cniVersion":"1.0.0","code":7,"msg":"the fake plugin refuses"}'; exit 1 ;;
esac
`,
      );
      chmodSync(plugin, 0o755);
      const callLog = join(dir, "cni-calls.log");
      const runtime = new CniRuntime({
        binDirs: [dir],
        cacheDir: join(dir, "cache"),
        runtimeNetns: node,
        maxVersion: "1.0.0",
        callLog,
      });
      const list = { cniVersion: "1.0.0", name: "test", plugins: [{ type: "fake" }] };
      await runtime.validate(list);
      const rt = { containerId: "c0ffee", netns: `/run/netns/${node}`, ifname: "eth0", args: [], capabilityArgs: {} };
      await assert.rejects(runtime.add(list, rt), CniCallError);
      const calls = readFileSync(callLog, "utf8")
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l));
      assert.equal(calls.length, 2);
      assert.equal(calls[0].verb, "VERSION");
      assert.equal(calls[0].status, 0);
      assert.equal(calls[1].verb, "ADD");
      assert.equal(calls[1].plugin, "fake");
      assert.equal(calls[1].containerId, "c0ffee");
      assert.equal(calls[1].status, 1);
      assert.match(calls[1].stdout, /the fake plugin refuses/);
      assert.equal(calls[1].stdin.name, "test");
    } finally {
      spawnSync("ip", ["netns", "del", node]);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("names a new directory per run under /var/log/podnet-lab", () => {
    assert.equal(
      evidenceDirFor("pnlab", new Date("2026-12-01T10:48:38.123Z")),
      join(EVIDENCE_ROOT, "pnlab-20261201T104838Z"),
    );
  });
});
