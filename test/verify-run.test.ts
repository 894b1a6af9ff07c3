// The verifier against a fake cluster (test/helpers/fakeCluster.ts): healthy, then with one
// path broken the way a security group, a route, a missing MASQUERADE or CoreDNS break it.
// Each time: which rows fail and what they saw, and that the namespace is gone afterwards.
// Then the real thing end to end: the stack's sh command, run under sh with the bundled
// verifier on stdin and stub sudo and kubectl, in both modes, and interrupted.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildSync } from "esbuild";
import type { CheckRow } from "../model/checks";
import { clusterDriver, limiter } from "../verify/driver";
import { RUN_LABEL } from "../verify/manifests";
import type { Connectivity } from "../verify/node";
import type { ProbeResult, Probes } from "../verify/probes";
import { remoteVerifyCommand, verifierBundle } from "../verify/remote";
import { type VerifyOptions, type VerifyReport, verifyCluster } from "../verify/run";
import { INTERNET_ROW, KUBERNETES_DNS_ROW } from "../verify/table";
import { type Break, FakeKubectl, type FakeState, fakeState } from "./helpers/fakeCluster";

const PUBLIC_IPS = new Map([
  ["control-plane", "203.0.113.10"],
  ["worker-1", "198.51.100.11"],
  ["worker-2", "198.51.100.12"],
]);

async function run(
  state: FakeState,
  options: Partial<VerifyOptions> = {},
): Promise<{ report: VerifyReport; kubectl: FakeKubectl; log: string[] }> {
  const kubectl = new FakeKubectl(state);
  const log: string[] = [];
  const report = await verifyCluster({
    kubectl,
    publicIps: PUBLIC_IPS,
    log: (l) => log.push(l),
    retryDelayMs: 5,
    ...options,
  });
  return { report, kubectl, log };
}

const verifyNamespaces = (state: FakeState) => state.namespaces.filter((n) => RUN_LABEL in n.labels).map((n) => n.name);
const failedGroups = (rows: readonly CheckRow[]) => [...new Set(rows.filter((r) => !r.ok).map((r) => r.group))].sort();

describe("verify: a run against a cluster", () => {
  it("passes every applicable row of a healthy cluster and removes its namespace", async () => {
    const state = fakeState(2);
    const { report, kubectl } = await run(state);
    assert.equal(report.error, undefined);
    assert.equal(report.ok, true, report.failures.join("\n"));
    assert.deepEqual(
      [...new Set(report.rows.map((r) => r.group))],
      [
        "pod -> its gateway (ICMP)",
        "pod -> its gateway (TCP)",
        "pod -> pod, same node",
        "pod -> pod, other node",
        INTERNET_ROW,
        "node -> pod, same node",
        "node -> pod, other node",
        "hostPort (portmap)",
        "service from pod, same node",
        "service from pod, other node",
        "service from a node (OUTPUT)",
        "service hairpin (backing pod)",
        "UDP service from pod, other node",
        "DNS: pod resolves a service (UDP)",
        KUBERNETES_DNS_ROW,
      ],
      "the lab's rows that apply to a real cluster, in the table's order; no negative control touches it",
    );
    assert.equal(report.rows.length, 37);
    assert.ok(report.rows.every((r) => r.phase === "cluster"));
    const internet = report.rows.filter((r) => r.group === INTERNET_ROW);
    assert.deepEqual(
      internet.map((r) => r.seen),
      ["src 198.51.100.11", "src 198.51.100.12"],
      "each pod's public address is its node's",
    );
    assert.deepEqual(verifyNamespaces(state), [], "namespace removed");
    assert.deepEqual(kubectl.calls.at(-1)!.slice(0, 3), ["delete", "namespace", report.namespace]);
    const applied = kubectl.calls.findIndex((c) => c[0] === "apply");
    assert.ok(
      applied > 0 && kubectl.calls.slice(0, applied).every((c) => c[0] !== "exec"),
      "nothing runs before the pods exist",
    );
  });

  const cases: Array<[Break, string[], RegExp]> = [
    [
      "cross-node-pods",
      ["UDP service from pod, other node", "pod -> pod, other node", "service from pod, other node"],
      /curl: \(28\) Connection timed out|i\/o timeout/,
    ],
    ["masquerade", [INTERNET_ROW], /curl: \(28\)/],
    [
      "dns",
      ["DNS: pod resolves a service (UDP)", KUBERNETES_DNS_ROW],
      /communications error to 10\.96\.0\.10#53: timed out/,
    ],
    ["hairpin", ["service hairpin (backing pod)"], /curl: \(28\)/],
  ];
  for (const [broken, rows, saw] of cases) {
    it(`with ${broken} broken, fails exactly ${rows.join(", ")}, says what it saw, and still removes its namespace`, async () => {
      const state = fakeState(2, [broken]);
      const { report } = await run(state);
      assert.equal(report.ok, false);
      assert.deepEqual(failedGroups(report.rows), [...rows].sort());
      for (const f of report.failures) assert.match(f, saw);
      assert.equal(report.failures.length, report.rows.filter((r) => !r.ok).length, "one failure line per failed row");
      assert.match(
        report.failures[0]!,
        /^FAIL \[cluster\] .+: .+ → .+: expected .+; seen (no connection|no reply|no answer) \(/,
        "the lab's failure line",
      );
      assert.deepEqual(verifyNamespaces(state), []);
    });
  }

  it("reports pods that never become Ready with each one's reason, and removes the namespace", async () => {
    const state = fakeState(2, ["sandbox"]);
    const { report } = await run(state);
    assert.equal(report.ok, false);
    assert.deepEqual(report.rows, []);
    assert.match(
      report.error!,
      /test pods not Ready after 180 s:\n {2}web-control-plane on control-plane: FailedCreatePodSandBox: .*plugin type="podnet" failed \(add\)/,
    );
    assert.deepEqual(verifyNamespaces(state), []);
    assert.match(report.cleanup, /removed/);
  });

  it("creates nothing while a node is not Ready", async () => {
    const state = fakeState(2);
    state.nodes[2] = { ...state.nodes[2]!, ready: false };
    const { report, kubectl } = await run(state);
    assert.equal(report.error, "not Ready: worker-2 (kubectl describe node worker-2)");
    assert.ok(!kubectl.calls.some((c) => c[0] === "apply"));
    assert.equal(report.cleanup, "nothing created");
  });

  it("removes what an earlier run left before it starts (one run at a time: the hostPort)", async () => {
    const state = fakeState(1);
    state.namespaces.push({ name: "podnet-verify-dead01", labels: { [RUN_LABEL]: "dead01" } });
    const { report, log } = await run(state);
    assert.equal(report.ok, true);
    assert.ok(log.some((l) => l.includes("removed 1 namespace(s) an earlier run left: podnet-verify-dead01")));
    assert.deepEqual(verifyNamespaces(state), []);
  });

  it("runs only what applies to a control plane alone, and keeps the namespace with keep", async () => {
    const state = fakeState(0);
    const { report } = await run(state, { keep: true });
    assert.equal(report.ok, true, report.failures.join("\n"));
    assert.deepEqual(
      [...new Set(report.rows.map((r) => r.group))],
      [
        "pod -> its gateway (ICMP)",
        "pod -> its gateway (TCP)",
        "service from a node (OUTPUT)",
        "service hairpin (backing pod)",
        "DNS: pod resolves a service (UDP)",
        KUBERNETES_DNS_ROW,
      ],
    );
    assert.ok(report.rows.every((r) => r.from === "web-control-plane" || r.from === "node control-plane"));
    assert.deepEqual(verifyNamespaces(state), [report.namespace]);
    assert.match(report.cleanup, /kept/);
  });

  it("expects the public IPs it is given, and asks each node for its own when it has none", async () => {
    const wrong = await run(fakeState(2), { publicIps: new Map([["worker-1", "192.0.2.99"]]) });
    const internet = wrong.report.rows.filter((r) => r.group === INTERNET_ROW);
    assert.deepEqual(
      internet.map((r) => [r.from, r.expect, r.seen, r.ok]),
      [
        ["shell-worker-1", "src 192.0.2.99", "src 198.51.100.11", false],
        ["shell-worker-2", "src 198.51.100.12", "src 198.51.100.12", true],
      ],
    );
    assert.ok(
      wrong.kubectl.calls.some((c) => c.includes("host-worker-2") && c.includes("https://checkip.amazonaws.com")),
      "worker-2 asked for its own address",
    );
  });

  it("tries a failed probe once more: a path that lags its objects passes, a broken one fails with its last error", async () => {
    let calls = 0;
    const answers: ProbeResult[] = [
      { ok: false, error: "curl: (7) Failed to connect", ms: 3 },
      { ok: true, agent: "web-worker-1", peer: "10.244.2.3", ms: 4 },
    ];
    const flaky = { http: async () => answers[Math.min(calls++, 1)]! } as unknown as Probes;
    const pod = { kind: "pod", name: "shell-worker-2" } as const;
    const o = await clusterDriver(flaky, { retryDelayMs: 1 }).connect(pod, "tcp", "10.96.0.50", 80, 2000);
    assert.deepEqual([calls, o.ok, o.agent, o.peer], [2, true, "web-worker-1", "10.244.2.3"]);
    calls = 0;
    const broken = { http: async () => ({ ok: false, error: `try ${++calls}`, ms: 1 }) } as unknown as Probes;
    const f = await clusterDriver(broken, { retryDelayMs: 1 }).connect(pod, "tcp", "10.96.0.50", 80, 2000);
    assert.deepEqual([calls, f.ok, f.error], [2, false, "try 2"]);
    const once = await clusterDriver(broken, { retries: 0 }).connect(pod, "tcp", "10.96.0.50", 80, 2000);
    assert.equal(once.error, "try 3");
  });

  it("waits until the Services list their pod before it runs a check", async () => {
    const state = fakeState(1);
    const kubectl = new FakeKubectl(state);
    let sliceCalls = 0;
    const slow: typeof kubectl = Object.assign(Object.create(kubectl), {
      async run(args: readonly string[], options?: { stdin?: string }) {
        // The first two reads come before the EndpointSlice controller has caught up.
        if (args[1] === "endpointslices" && ++sliceCalls <= 2) return { status: 0, stdout: '{"items":[]}', stderr: "" };
        return kubectl.run(args, options);
      },
    });
    const report = await verifyCluster({ kubectl: slow, publicIps: PUBLIC_IPS, log: () => undefined });
    assert.equal(report.ok, true, report.error ?? report.failures.join("\n"));
    assert.equal(sliceCalls, 3);
    const firstExec = kubectl.calls.findIndex((c) => c[0] === "exec" && !c.includes("https://checkip.amazonaws.com"));
    const lastSlices = kubectl.calls.map((c) => c[1]).lastIndexOf("endpointslices");
    assert.ok(lastSlices >= 0 && lastSlices < firstExec, "no check before the endpoints are there");
  });

  it("runs at most `parallel` kubectl calls at once", async () => {
    const limit = limiter(3);
    let running = 0;
    let most = 0;
    await Promise.all(
      Array.from({ length: 12 }, () =>
        limit(async () => {
          most = Math.max(most, ++running);
          await new Promise((r) => setTimeout(r, 2));
          running--;
        }),
      ),
    );
    assert.equal(most, 3);
  });
});

describe("verify: the stack's command, end to end", function () {
  let dir: string;
  let stateFile: string;
  // Every fake kubectl call is a node start; extra CA certificates would add tens of ms to each.
  const env = () => {
    const { NODE_EXTRA_CA_CERTS: _unused, ...rest } = process.env;
    return { ...rest, PATH: `${join(dir, "bin")}:${process.env.PATH}`, FAKE_CLUSTER: stateFile };
  };

  before(() => {
    dir = mkdtempSync(join(tmpdir(), "podnet-verify-test-"));
    buildSync({
      entryPoints: [join(__dirname, "helpers", "fake-kubectl.ts")],
      outfile: join(dir, "fake-kubectl.js"),
      bundle: true,
      platform: "node",
      format: "cjs",
      logLevel: "error",
    });
    const bin = join(dir, "bin");
    spawnSync("mkdir", ["-p", bin]);
    writeFileSync(join(bin, "kubectl"), `#!/bin/sh\nexec ${process.execPath} ${join(dir, "fake-kubectl.js")} "$@"\n`);
    // The image's sudo, minus the privilege: the command runs node as root through it.
    writeFileSync(join(bin, "sudo"), '#!/bin/sh\nexec "$@"\n');
    chmodSync(join(bin, "kubectl"), 0o755);
    chmodSync(join(bin, "sudo"), 0o755);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  beforeEach(() => {
    stateFile = join(dir, "cluster.json");
    rmSync(`${stateFile}.calls`, { force: true });
  });

  const leftovers = () => readdirSync("/tmp").filter((f) => f.startsWith("podnet-verify."));
  const runCommand = (state: FakeState, mode: "fail" | "report") => {
    writeFileSync(stateFile, JSON.stringify(state));
    const command = remoteVerifyCommand({ mode, publicIps: [...PUBLIC_IPS], kubeconfig: join(dir, "admin.conf") });
    const r = spawnSync("sh", ["-c", command], {
      input: verifierBundle(),
      encoding: "utf8",
      env: env(),
      timeout: 60_000,
    });
    return { ...r, state: JSON.parse(readFileSync(stateFile, "utf8")) as FakeState };
  };

  it("prints the report as one JSON line on stdout and exits 0 when every check passes", () => {
    const before = leftovers();
    const r = runCommand(fakeState(2), "fail");
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout) as Connectivity;
    assert.equal(report.ok, true);
    assert.equal(report.summary, "All 37 checks passed.");
    assert.match(report.table.join("\n"), /hostPort \(portmap\) +node control-plane +worker-1 10\.0\.1\.11:8080/);
    assert.match(r.stderr, /All 37 checks passed\./);
    assert.deepEqual(verifyNamespaces(r.state), []);
    assert.deepEqual(leftovers(), before, "the temp dir holding the verifier is removed");
    const calls = readFileSync(`${stateFile}.calls`, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as string[]);
    assert.ok(
      calls.every((c) => c[0] === `--kubeconfig=${join(dir, "admin.conf")}`),
      "every kubectl call uses the admin kubeconfig",
    );
  });

  it("--mode fail: a failed check exits 1 with the failing rows and what each saw on stderr, nothing on stdout", () => {
    const r = runCommand(fakeState(1, ["masquerade"]), "fail");
    assert.equal(r.status, 1);
    assert.equal(r.stdout, "");
    // The lab's report, fitted to 120 columns: the table, then each failure with what it saw.
    assert.match(r.stderr, /^ {2}check +from → to +result +ms$/m);
    assert.match(
      r.stderr,
      /1 of 20 checks failed:\n {2}FAIL \[cluster\] pod -> internet \(masqueraded\): shell-worker-1 → internet checkip\.amazonaws\.com:443: expected src\s+198\.51\.100\.11; seen no connection \(curl: \(28\) Connection timed out/,
    );
    assert.match(r.stderr, /cleanup: namespace podnet-verify-[0-9a-f]{6} removed/);
    assert.deepEqual(verifyNamespaces(r.state), []);
  });

  it("--mode report: the same failure exits 0 and lands in the report", () => {
    const r = runCommand(fakeState(1, ["masquerade"]), "report");
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout) as Connectivity;
    assert.equal(report.ok, false);
    assert.deepEqual(
      report.failures.map((f) => f.split(":")[0]),
      [`FAIL [cluster] ${INTERNET_ROW}`],
    );
    assert.equal(report.summary, "1 of 20 checks failed.");
  });

  it("removes its namespace when interrupted (SIGTERM) in the middle of the checks", async () => {
    writeFileSync(stateFile, JSON.stringify(fakeState(1)));
    const script = join(dir, "verify.js");
    writeFileSync(script, verifierBundle());
    const child = spawn(process.execPath, [script, "--kubeconfig", join(dir, "admin.conf")], {
      env: { ...env(), FAKE_EXEC_DELAY_MS: "3000" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const deadline = Date.now() + 20_000;
    while (!(existsSync(`${stateFile}.calls`) && readFileSync(`${stateFile}.calls`, "utf8").includes('"exec"'))) {
      if (Date.now() > deadline) throw new Error(`no exec started: ${stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill("SIGTERM");
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    assert.equal(code, 143, "128 + SIGTERM");
    assert.match(stderr, /verify: SIGTERM: namespace podnet-verify-[0-9a-f]{6} removed/);
    assert.deepEqual(verifyNamespaces(JSON.parse(readFileSync(stateFile, "utf8")) as FakeState), []);
  });
});
