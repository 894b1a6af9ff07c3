// Running the node's tools (cni/exec.ts), without root: what a failure tells the runtime, and
// what a call's environment gives the tools. The `ip` calls only read (links of this namespace),
// so they need no privilege and change nothing.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { CniError, ErrorCode } from "../cni/errors";
import { execStats, ipBatch, isNotFound, run } from "../cni/exec";

const REPO = resolve(__dirname, "..");
const MISSING = "pn-unit-nope0";

/** The CniError `fn` throws; fails the test when it throws nothing or something else. */
function cniErrorOf(fn: () => unknown): CniError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof CniError, `expected a CniError, got ${String(error)}`);
    return error;
  }
  assert.fail("expected a CniError, nothing was thrown");
}

describe("exec: running a tool", () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "podnet-exec-unit-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("returns a non-zero exit with its output instead of throwing, and feeds stdin", () => {
    const res = run("sh", ["-c", 'read -r line; echo "out:$line"; echo err >&2; exit 3'], "hello\n");
    assert.deepEqual(res, { status: 3, stdout: "out:hello\n", stderr: "err\n" });
  });

  it("reports a tool that exits without reading its input by its own exit and words", () => {
    // Writing the input then fails with EPIPE; what matters is why the tool stopped.
    for (let i = 0; i < 3; i++) {
      const res = run("sh", ["-c", "echo refused >&2; exit 3"], "x".repeat(1 << 20));
      assert.deepEqual(res, { status: 3, stdout: "", stderr: "refused\n" });
    }
  });

  it("counts every process it starts", () => {
    const before = execStats.count;
    run("true", []);
    run("false", []);
    assert.equal(execStats.count, before + 2);
  });

  it("names a tool that is not installed and the packages that provide the node's tools", () => {
    const error = cniErrorOf(() => run("podnet-no-such-tool", []));
    assert.equal(error.code, ErrorCode.IoFailure);
    assert.equal(error.message, "podnet-no-such-tool is not installed on this node");
    assert.match(
      error.details,
      /install the package that provides podnet-no-such-tool \(iproute2, iptables, util-linux\)/,
    );
  });

  it("reports a tool that cannot be started with the system's reason, not as missing", () => {
    const file = join(dir, "not-executable");
    writeFileSync(file, "#!/bin/sh\n");
    chmodSync(file, 0o644);
    const error = cniErrorOf(() => run(file, []));
    assert.equal(error.code, ErrorCode.IoFailure);
    assert.match(error.message, new RegExp(`^cannot run ${file}: .*EACCES`));
    assert.doesNotMatch(error.message, /not installed/);
  });

  it("finds the sbin tools even when the runtime calls the plugin with a PATH that lacks them", () => {
    // iptables lives in /usr/sbin; the runtime's PATH here has only /usr/bin:/bin.
    const env = { PATH: "/usr/bin:/bin" };
    assert.equal(spawnSync("iptables", ["-V"], { env }).error?.message, "spawnSync iptables ENOENT");
    const child = spawnSync(
      process.execPath,
      [
        "--import",
        "tsx",
        "-e",
        'const r = require("./cni/exec.ts").run("iptables", ["-V"]); process.stdout.write(`${r.status} ${r.stdout}`);',
      ],
      { cwd: REPO, encoding: "utf8", env },
    );
    assert.equal(child.status, 0, child.stderr);
    assert.match(child.stdout, /^0 iptables v\d/);
  });
});

describe("exec: ip -batch failures", () => {
  it("runs nothing for an empty batch", () => {
    const before = execStats.count;
    assert.equal(ipBatch([]), "");
    assert.equal(execStats.count, before);
  });

  it("returns the batch's JSON output when every command succeeds", () => {
    const out = JSON.parse(ipBatch(["link show dev lo"]));
    assert.equal(out[0].ifname, "lo");
  });

  it("names the failing command of the batch and ip's reason, and keeps ip's words as details", () => {
    const commands = ["link show dev lo", `link show dev ${MISSING}`, "link show dev lo"];
    const error = cniErrorOf(() => ipBatch(commands));
    assert.equal(error.code, ErrorCode.NetworkSetupFailed);
    assert.equal(error.message, `ip failed: "ip link show dev ${MISSING}": Device "${MISSING}" does not exist.`);
    assert.equal(error.failedCommand, `"ip link show dev ${MISSING}"`);
    assert.equal(error.details, `Device "${MISSING}" does not exist.\nCommand failed -:2`);
  });

  it("names the first command when the batch fails at once", () => {
    const error = cniErrorOf(() => ipBatch([`addr show dev ${MISSING}`, "link show dev lo"]));
    assert.equal(error.failedCommand, `"ip addr show dev ${MISSING}"`);
  });

  it("names the namespace, and blames no command, when it cannot enter the namespace", () => {
    // nsenter exits before it reads the batch: the same answer every time, whatever the timing.
    for (let i = 0; i < 5; i++) {
      const error = cniErrorOf(() => ipBatch(["link show dev lo"], "/nonexistent/podnet-netns"));
      assert.equal(error.code, ErrorCode.NetworkSetupFailed);
      assert.match(
        error.message,
        /^ip failed in \/nonexistent\/podnet-netns: nsenter: cannot open \/nonexistent\/podnet-netns/,
      );
      assert.equal(error.failedCommand, undefined);
    }
  });
});

describe("exec: recognising a missing link", () => {
  it("knows ip's words for a link that is not there", () => {
    for (const args of [
      ["link", "show", "dev", MISSING],
      ["addr", "show", "dev", MISSING],
      ["link", "set", "dev", MISSING, "up"],
    ]) {
      const res = run("ip", args);
      assert.notEqual(res.status, 0, args.join(" "));
      assert.ok(isNotFound(res.stderr), `${args.join(" ")}: ${res.stderr}`);
    }
  });

  it("does not take other failures for a missing link", () => {
    for (const stderr of [
      "RTNETLINK answers: File exists",
      "RTNETLINK answers: Operation not permitted",
      'Error: argument "x" is wrong: Invalid address',
      "",
    ]) {
      assert.equal(isNotFound(stderr), false, stderr);
    }
  });
});
