// `npm run verify`: its arguments, and each way it reaches a cluster (the stack's kubeconfig,
// a given kubeconfig, SSH to the control plane) with pulumi, kubectl and ssh faked, so what
// it hands each tool, what it leaves on disk and how it exits are checked offline.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main, parseArgs, type Tools, USAGE } from "../verify/main";
import { type Connectivity, connectivityOf } from "../verify/node";
import { remoteVerifyCommand, verifierBundle } from "../verify/remote";
import { type Break, FakeKubectl, fakeState } from "./helpers/fakeCluster";

const STACK = {
  kubeconfig: "apiVersion: v1\nkind: Config\n# the stack's admin kubeconfig\n",
  sshPrivateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n",
  controlPlanePublicIp: "203.0.113.10",
  nodes: [
    { name: "control-plane", publicIp: "203.0.113.10" },
    { name: "worker-1", publicIp: "198.51.100.11" },
    { name: "worker-2", publicIp: "198.51.100.12" },
  ],
};

interface Seen {
  pulumi: string[][];
  kubeconfigs: Array<{ path: string; text: string; mode: number }>;
  ssh: Array<{ args: string[]; stdin: string; key: string; keyMode: number }>;
}

function fakeTools(options: { breaks?: Break[]; pulumi?: "missing" | "no-stack"; sshReport?: Connectivity } = {}): {
  tools: Tools;
  seen: Seen;
} {
  const seen: Seen = { pulumi: [], kubeconfigs: [], ssh: [] };
  const tools: Tools = {
    pulumi: (args) => {
      seen.pulumi.push([...args]);
      if (options.pulumi === "missing")
        return {
          status: null,
          stdout: "",
          stderr: "",
          error: Object.assign(new Error("spawn pulumi ENOENT"), { code: "ENOENT" }),
        };
      if (options.pulumi === "no-stack")
        return { status: 255, stdout: "", stderr: "error: no stack selected; please use `pulumi stack select`" };
      return { status: 0, stdout: JSON.stringify(STACK), stderr: "" };
    },
    kubectl: (path) => {
      seen.kubeconfigs.push({ path, text: readFileSync(path, "utf8"), mode: statSync(path).mode & 0o777 });
      return new FakeKubectl(fakeState(2, options.breaks ?? []));
    },
    ssh: async (args, stdin) => {
      const key = args[args.indexOf("-i") + 1]!;
      seen.ssh.push({ args: [...args], stdin, key: readFileSync(key, "utf8"), keyMode: statSync(key).mode & 0o777 });
      return { status: 0, stdout: `${JSON.stringify(options.sshReport)}\n` };
    },
  };
  return { tools, seen };
}

/** main() with console output captured. */
async function cli(argv: string[], tools: Tools): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const saved = { log: console.log, error: console.error, noColor: process.env.NO_COLOR };
  process.env.NO_COLOR = "1"; // the same text whether mocha's stdout is a terminal or not
  console.log = (...a: unknown[]) => out.push(a.join(" "));
  console.error = (...a: unknown[]) => err.push(a.join(" "));
  try {
    return { code: await main(argv, tools), out: out.join("\n"), err: err.join("\n") };
  } finally {
    Object.assign(console, { log: saved.log, error: saved.error });
    if (saved.noColor === undefined) delete process.env.NO_COLOR;
    else process.env.NO_COLOR = saved.noColor;
  }
}

describe("npm run verify", () => {
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), "podnet-verify-cli-"))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("parses its arguments and refuses contradictions, naming the fix", () => {
    assert.deepEqual(parseArgs([]), {
      command: "run",
      source: "stack",
      stack: undefined,
      kubeconfig: undefined,
      json: undefined,
      publicIps: new Map(),
      mode: "fail",
      parallel: undefined,
      keep: false,
      wide: false,
    });
    const all = parseArgs([
      "--stack",
      "dev",
      "--ssh",
      "--mode",
      "report",
      "--public-ip",
      "worker-1=198.51.100.11",
      "--parallel=3",
      "--keep",
      "--wide",
      "--json",
      "r.json",
    ]);
    assert.deepEqual(
      [all.source, all.stack, all.mode, [...all.publicIps], all.parallel, all.keep, all.wide, all.json],
      ["ssh", "dev", "report", [["worker-1", "198.51.100.11"]], 3, true, true, "r.json"],
    );
    assert.throws(() => parseArgs(["--ssh", "--kubeconfig", "k"]), /--ssh and --kubeconfig: choose one/);
    assert.throws(() => parseArgs(["--kubeconfig", "k", "--stack", "dev"]), /drop --kubeconfig, or --stack/);
    assert.throws(() => parseArgs(["--public-ip", "worker-1"]), /--public-ip worker-1: use NODE=IPv4/);
    assert.throws(() => parseArgs(["--mode", "maybe"]), /--mode maybe: use fail .* or report/);
    assert.throws(() => parseArgs(["--parallel", "0"]), /--parallel 0: use 1 to 32/);
    assert.throws(() => parseArgs(["--json"]), /--json needs a value/);
  });

  it("--help prints the usage and exits 0; bad usage exits 2 with it", async () => {
    const { tools } = fakeTools();
    const help = await cli(["--help"], tools);
    assert.equal(help.code, 0);
    assert.equal(help.out, USAGE);
    const bad = await cli(["--frobnicate"], tools);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /^verify: unknown argument --frobnicate\nusage: npm run verify/);
  });

  it("by default runs kubectl here with the stack's kubeconfig (0600, removed afterwards) and its public IPs", async () => {
    const { tools, seen } = fakeTools();
    const json = join(dir, "report.json");
    const r = await cli(["--stack", "dev", "--json", json], tools);
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(seen.pulumi, [["stack", "output", "--json", "--show-secrets", "--stack", "dev"]]);
    assert.equal(seen.kubeconfigs[0]!.text, STACK.kubeconfig);
    assert.equal(seen.kubeconfigs[0]!.mode, 0o600);
    assert.ok(!existsSync(seen.kubeconfigs[0]!.path), "the kubeconfig copy is gone");
    assert.match(r.out, /All 37 checks passed\./);
    const report = JSON.parse(readFileSync(json, "utf8")) as Connectivity;
    assert.equal(report.rows.length, 37);
    assert.deepEqual(Object.keys(report.rows[0]!).sort(), [
      "expect",
      "from",
      "group",
      "ms",
      "ok",
      "phase",
      "seen",
      "to",
    ]);
    assert.ok(
      report.rows.some((r) => r.group === "pod -> internet (masqueraded)" && r.expect === "src 198.51.100.12"),
      "the stack's public IPs are expected",
    );
  });

  it("exits 1 when a check fails, 0 with --mode report; --kubeconfig needs no Pulumi", async () => {
    const { tools, seen } = fakeTools({ breaks: ["cross-node-pods"] });
    const kubeconfig = join(dir, "kc");
    writeFileSync(kubeconfig, "given", { mode: 0o600 });
    const failed = await cli(["--kubeconfig", kubeconfig], tools);
    assert.equal(failed.code, 1);
    assert.match(
      failed.out,
      /^ {2}pod -> pod, other node +shell-worker-1 → web-worker-2 10\.244\.2\.2:8080 +FAIL/m,
      "the lab's table",
    );
    assert.match(
      failed.out,
      /4 of 37 checks failed:\n {2}FAIL \[cluster\] pod -> pod, other node: shell-worker-1 → web-worker-2 10\.244\.2\.2:8080: expected src 10\.244\.1\.3; seen no\s+connection/,
    );
    assert.equal(seen.pulumi.length, 0);
    assert.equal(seen.kubeconfigs[0]!.path, kubeconfig);
    assert.ok(existsSync(kubeconfig), "a given kubeconfig is the user's: left alone");
    const reported = await cli(["--kubeconfig", kubeconfig, "--mode", "report"], tools);
    assert.equal(reported.code, 0);
  });

  it("--ssh runs the stack's own command on the control plane, with the key in a 0600 file removed afterwards", async () => {
    const failing = connectivityOf({
      ok: false,
      runId: "r",
      namespace: "podnet-verify-r",
      nodes: [],
      rows: [],
      failures: ["FAIL [cluster] x: a → b: expected c; seen d"],
      cleanup: "namespace podnet-verify-r removed",
      ms: 1,
    });
    const { tools, seen } = fakeTools({ sshReport: failing });
    const r = await cli(["--ssh", "--parallel", "2"], tools);
    assert.equal(r.code, 1, "the node reports, this side decides");
    const [call] = seen.ssh;
    assert.equal(call!.key, STACK.sshPrivateKey);
    assert.equal(call!.keyMode, 0o600);
    assert.ok(!existsSync(call!.args[call!.args.indexOf("-i") + 1]!), "the key file is gone");
    assert.equal(call!.args.at(-2), "ubuntu@203.0.113.10");
    assert.equal(
      call!.args.at(-1),
      remoteVerifyCommand({
        mode: "report",
        publicIps: STACK.nodes.map((n) => [n.name, n.publicIp] as const),
        parallel: 2,
        keep: false,
        wide: false,
      }),
    );
    assert.equal(call!.stdin, verifierBundle());
    assert.ok(call!.args.includes("BatchMode=yes"));
  });

  it("says how to go on when pulumi is missing or no stack is selected", async () => {
    const missing = await cli([], fakeTools({ pulumi: "missing" }).tools);
    assert.equal(missing.code, 1);
    assert.match(missing.err, /pulumi is not installed here: install it, or run with --kubeconfig FILE/);
    const none = await cli([], fakeTools({ pulumi: "no-stack" }).tools);
    assert.match(none.err, /no stack selected.*\(select the stack with --stack NAME\)/);
  });
});
