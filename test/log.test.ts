// The log root appends to: never through a link, never in a directory others can write.
import assert from "node:assert/strict";
import { chmodSync, chownSync, linkSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { appendLog } from "../cni/log";
import { invoke } from "../cni/plugin";
import { requireRoot, tempDir } from "./helpers/system";

const entry = { time: "t", verb: "DEL", result: "ok" as const, durationMs: 1 };

describe("plugin log", () => {
  let dir: ReturnType<typeof tempDir>;
  beforeEach(() => (dir = tempDir("podnet-log")));
  afterEach(() => dir.cleanup());

  it("appends one line to a regular file, making its directory when missing", () => {
    const file = join(dir.path, "logs", "podnet.log");
    appendLog(file, entry);
    appendLog(file, entry);
    assert.equal(readFileSync(file, "utf8"), `${JSON.stringify(entry)}\n${JSON.stringify(entry)}\n`);
  });

  it("never follows a symlinked logFile, nor writes to a file with a second name", () => {
    const target = join(dir.path, "shadow");
    writeFileSync(target, "root:secret\n");
    const link = join(dir.path, "podnet.log");
    symlinkSync(target, link);
    appendLog(link, entry);
    assert.equal(readFileSync(target, "utf8"), "root:secret\n", "the link's target is untouched");
    const hard = join(dir.path, "hard.log");
    linkSync(target, hard);
    appendLog(hard, entry);
    assert.equal(readFileSync(target, "utf8"), "root:secret\n", "a hard link's other name is untouched");
  });

  it("refuses a logFile whose directory others can write (code 5 naming it and the fix); group-writable /var/log style is fine", function () {
    requireRoot("the log trust test (chown)");
    // CHECK without prevResult: refused (code 7) after the log's check, before touching anything.
    const env = {
      CNI_COMMAND: "CHECK",
      CNI_CONTAINERID: "c1",
      CNI_IFNAME: "eth0",
      CNI_NETNS: "/proc/self/ns/net",
      CNI_PATH: "/x",
    };
    const accepted = (out: ReturnType<typeof invoke>) => JSON.parse(out.stdout).code === 7 && out.log?.file === file;
    const conf = (logFile: string) =>
      JSON.stringify({
        cniVersion: "1.0.0",
        name: "podnet",
        subnet: "10.244.1.0/24",
        clusterCidr: "10.244.0.0/16",
        dataDir: join(dir.path, "ipam"),
        logFile,
      });
    const logs = join(dir.path, "logs");
    mkdirSync(logs, { mode: 0o755 });
    const file = join(logs, "podnet.log");
    assert.ok(accepted(invoke(env, conf(file))));
    for (const [mode, uid, reason] of [
      [0o777, 0, /writable by others \(mode 777\)/],
      [0o1777, 0, /writable by others \(mode 1777\)/],
      [0o755, 65534, /owned by uid 65534, not root/],
    ] as const) {
      chmodSync(logs, mode);
      chownSync(logs, uid, 0);
      const out = invoke(env, conf(file));
      const reply = JSON.parse(out.stdout);
      assert.equal(out.exitCode, 1);
      assert.equal(reply.code, 5, out.stdout);
      assert.match(reply.msg, new RegExp(`^logFile: ${logs} is `));
      assert.match(reply.msg, reason);
      assert.match(reply.details, /chown root:root .*chmod go-w|"logFile"/);
      assert.equal(out.log?.file, "", "nothing is written there, not even the error");
    }
    chownSync(logs, 0, 0);
    chmodSync(logs, 0o775);
    assert.ok(accepted(invoke(env, conf(file))), "group-writable, as Ubuntu's /var/log (root:syslog 0775)");
    chmodSync(dir.path, 0o777);
    try {
      assert.match(
        JSON.parse(invoke(env, conf(file)).stdout).msg,
        new RegExp(`^logFile: ${dir.path} is writable`),
        "an ancestor counts too",
      );
    } finally {
      chmodSync(dir.path, 0o700);
    }
  });
});
