// npm run bench:cni: podnet next to Debian's reference bridge + host-local, on one
// machine in one run. Each plugin gets a node netns of its own (pnb-*) and a worker there
// that execs it as a runtime would; the workers are driven in lock step so the samples of
// podnet, the reference and `bun -e 0` (the floor of any plugin on that runtime) interleave.
//
// Measures: ADD and DEL latency (median, p95) over sequential pods, a burst of concurrent
// ADDs (successes, distinct IPs, wall time), the bundle's size and cold start (VERSION),
// and, when strace is installed, a profile of podnet's ADD (processes, exec cost, JS time).
// Prints a table and writes bench-results/cni.md. Removes every namespace it made.
import { spawn } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { cpus, release } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { renderConflist } from "../../cni/conflist";
import { IpamStore } from "../../cni/ipam";
import { parseCidr } from "../../cni/ipv4";
import { bunBinDir, pinnedBunVersion } from "../../lab/bun";
import { BUNDLE, CLUSTER_CIDR, ensureBundle, installCniBin, workerNode } from "../runtimes/cni";
import {
  describeCmd,
  HostTraces,
  must,
  nodeLockFile,
  onNode,
  REPO_ROOT,
  requireRoot,
  requireTools,
  sh,
  tempDir,
  withPrivateVarLog,
} from "../runtimes/host";
import { type CallTrace, type ExecProfile, parseStrace, summariseStrace } from "./profile";
import {
  type HookRun,
  type LoggedCall,
  median,
  type Profile,
  p95,
  render,
  type Series,
  SPAWN_HOOK,
  summarise,
} from "./report";
import type { BurstResult, CallResult, Pod, Request } from "./worker";

const SEQUENTIAL = Number(process.env.PNB_PODS ?? 60);
const BURST = Number(process.env.PNB_BURST ?? 100);
const VERSION_RUNS = 30;
const PROFILE_RUNS = 10;
const PREFIX = `pnb-${process.pid}`;

// ---------------------------------------------------------------------------- workers

class Worker {
  private readonly waiting: Array<(line: string) => void> = [];
  private readonly child;
  private stderr = "";

  constructor(
    readonly name: string,
    nodeNetns: string,
    plugin: string,
    configFile: string,
    cniPath: string,
    bun: string,
  ) {
    // A private mount namespace with a tmpfs on /var/log: podnet logs VERSION calls to
    // /var/log/podnet.log whatever the config says, and the bench must not write there.
    // As on a node: the plugin sees the node's own sysfs (where it reads the bridge).
    const argv = onNode(
      nodeNetns,
      withPrivateVarLog([
        process.execPath,
        "--import",
        "tsx",
        join(REPO_ROOT, "test", "bench", "worker.ts"),
        plugin,
        configFile,
        cniPath,
        bun,
      ]),
    );
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.NODE_OPTIONS;
    delete env.NODE_EXTRA_CA_CERTS;
    this.child = spawn(argv[0], argv.slice(1), { cwd: REPO_ROOT, env, stdio: ["pipe", "pipe", "pipe"] });
    this.child.stderr.setEncoding("utf8").on("data", (d: string) => (this.stderr += d));
    createInterface({ input: this.child.stdout }).on("line", (line) => this.waiting.shift()?.(line));
    this.child.on("exit", (code) => {
      for (const w of this.waiting.splice(0))
        w(JSON.stringify({ error: `worker ${name} exited ${code}: ${this.stderr.slice(-1000)}` }));
    });
  }

  private next(): Promise<string> {
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  async ready(): Promise<void> {
    const line = await this.next();
    const msg = JSON.parse(line) as { ready?: boolean; error?: string };
    if (!msg.ready) throw new Error(`worker ${this.name} did not start: ${msg.error ?? line}`);
  }

  async request<T>(req: Request): Promise<T> {
    const reply = this.next();
    this.child.stdin.write(`${JSON.stringify(req)}\n`);
    const parsed = JSON.parse(await reply) as T & { error?: string };
    if (parsed && typeof parsed === "object" && "error" in parsed && !("ms" in parsed))
      throw new Error(`worker ${this.name}: ${parsed.error}`);
    return parsed;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.child.on("exit", resolve));
    this.child.stdin.write(`${JSON.stringify({ op: "exit" })}\n`);
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------- setup

interface Side {
  key: "podnet" | "reference";
  label: string;
  node: string;
  pods: Pod[];
  worker?: Worker;
  dataDir: string;
  leftover: () => number;
}

function ipBatch(lines: string[]): void {
  const res = sh(["ip", "-force", "-batch", "-"], { input: `${lines.join("\n")}\n`, timeoutMs: 120_000 });
  if (res.status !== 0) throw new Error(describeCmd(["ip", "-force", "-batch", "-"], res));
}

function machine(): string {
  const model = cpus()[0]?.model ?? "unknown CPU";
  const debian = (() => {
    try {
      return `Debian ${readFileSync("/etc/debian_version", "utf8").trim()}`;
    } catch {
      return "Linux";
    }
  })();
  const plugins = sh(["dpkg-query", "-W", "-f", "${Version}", "containernetworking-plugins"]).stdout.trim();
  return `${cpus().length} cores (${model}), ${debian}, kernel ${release()}, containernetworking-plugins ${plugins || "?"}`;
}

// ---------------------------------------------------------------------------- main

/**
 * `bun -e 0` from a copy of the runtime whose pages were just dropped from the page cache
 * (dd's nocache, for that file only), then again warm: what the first call after an
 * install or a boot pays to read the binary. Median of a few rounds.
 */
function coldRuntimeStart(bun: string, dir: string): { coldMs: number; warmMs: number; mib: number } {
  const copy = join(dir, "bun-cold");
  copyFileSync(bun, copy);
  chmodSync(copy, 0o755);
  const cold: number[] = [];
  const warm: number[] = [];
  const time = () => {
    const start = process.hrtime.bigint();
    must([copy, "-e", "0"]);
    return Number(process.hrtime.bigint() - start) / 1e6;
  };
  for (let i = 0; i < 3; i++) {
    must(["dd", `of=${copy}`, "oflag=nocache", "conv=notrunc,fdatasync", "count=0", "status=none"]);
    cold.push(time());
    warm.push(time());
  }
  const mib = statSync(copy).size / 1024 / 1024;
  rmSync(copy, { force: true });
  return { coldMs: median(cold), warmMs: median(warm), mib };
}

/** The plugin's log line for a container's last call. */
function loggedCall(logFile: string, containerId: string): LoggedCall | undefined {
  const lines = readFileSync(logFile, "utf8").trim().split("\n");
  for (let i = lines.length - 1; i >= 0; i--) {
    const entry = JSON.parse(lines[i]) as LoggedCall & { containerId?: string };
    if (entry.containerId === containerId) return entry;
  }
  return undefined;
}

async function main(): Promise<void> {
  requireRoot("npm run bench:cni");
  requireTools({ ip: "iproute2", nsenter: "util-linux", unshare: "util-linux", "iptables-save": "iptables" });
  const started = Date.now();
  const traces = new HostTraces();
  const dir = tempDir("pnb-");
  const node = workerNode();
  const binDir = join(dir, "bin");
  ensureBundle();
  installCniBin(binDir, ["loopback", "bridge", "host-local"]);
  const podnetPlugin = join(binDir, "podnet");
  const bun = join(bunBinDir(), "bun");

  // podnet's config as a runtime hands it over: the conflist's podnet entry plus name and version.
  const podnetLog = join(dir, "podnet.log");
  const conflist = renderConflist(node, {
    clusterCidr: CLUSTER_CIDR,
    dataDir: join(dir, "podnet-ipam"),
    logFile: podnetLog,
    portmap: false,
  });
  const podnetConf = { cniVersion: conflist.cniVersion, name: conflist.name, ...conflist.plugins[0] };
  const refDataDir = join(dir, "ref-ipam");
  const refConf = {
    cniVersion: "1.0.0",
    name: "pnbref",
    type: "bridge",
    bridge: "cni0",
    isGateway: true,
    ipMasq: true,
    hairpinMode: true,
    mtu: 1500,
    ipam: { type: "host-local", ranges: [[{ subnet: node.podCidr }]], dataDir: refDataDir },
  };
  writeFileSync(join(dir, "podnet.json"), JSON.stringify(podnetConf));
  writeFileSync(join(dir, "reference.json"), JSON.stringify(refConf));

  const pods = (tag: string) =>
    Array.from({ length: Math.max(SEQUENTIAL, BURST, PROFILE_RUNS) }, (_, i) => ({
      id: `${PREFIX}-${tag}-${i}`,
      netns: `/run/netns/${PREFIX}-${tag}${i}`,
    }));
  const sides: Side[] = [
    {
      key: "podnet",
      label: "podnet",
      node: `${PREFIX}-podnet`,
      pods: pods("p"),
      dataDir: join(dir, "podnet-ipam"),
      leftover: () => new IpamStore(join(dir, "podnet-ipam"), conflist.name, parseCidr(node.podCidr)).list().length,
    },
    {
      key: "reference",
      label: "bridge+host-local",
      node: `${PREFIX}-ref`,
      pods: pods("r"),
      dataDir: refDataDir,
      leftover: () => {
        try {
          return readdirSync(join(refDataDir, "pnbref")).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f)).length;
        } catch {
          return 0;
        }
      },
    },
  ];
  const lockFiles: string[] = [];
  const cleanup = async () => {
    for (const side of sides) await side.worker?.stop().catch(() => undefined);
    const names = sides.flatMap((s) => [s.node, ...s.pods.map((p) => p.netns.slice("/run/netns/".length))]);
    const existing = names.filter((n) => {
      try {
        statSync(`/run/netns/${n}`);
        return true;
      } catch {
        return false;
      }
    });
    if (existing.length > 0) ipBatch(existing.map((n) => `netns del ${n}`));
    const errors = traces.cleanup(lockFiles);
    rmSync(dir, { recursive: true, force: true });
    const left = [...names.filter((n) => existsSync(`/run/netns/${n}`)), ...lockFiles.filter((f) => existsSync(f))];
    for (const e of [...errors, ...left.map((l) => `left behind: ${l}`)])
      process.stderr.write(`bench: cleanup: ${e}\n`);
  };
  const onSignal = () => {
    void cleanup().finally(() => process.exit(130));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);

  const series: Record<Side["key"], Series> = {
    podnet: { add: [], del: [], failures: [] },
    reference: { add: [], del: [], failures: [] },
  };
  const floor: number[] = [];
  const version: number[] = [];
  const floorVersion: number[] = [];
  let profile: Profile | undefined;
  let firstAddProfile: Profile | undefined;
  let execProfile: ExecProfile | undefined;
  let profileNote = "";
  let coldStart: ReturnType<typeof coldRuntimeStart> | undefined;
  try {
    // Namespaces: one node and its pods per plugin, made by one ip process.
    ipBatch(
      sides.flatMap((s) => [
        `netns add ${s.node}`,
        ...s.pods.map((p) => `netns add ${p.netns.slice("/run/netns/".length)}`),
      ]),
    );
    for (const s of sides) {
      sh(["ip", "-n", s.node, "link", "set", "lo", "up"]);
      lockFiles.push(nodeLockFile(s.node));
    }
    for (const s of sides) {
      const plugin = s.key === "podnet" ? podnetPlugin : join(binDir, "bridge");
      s.worker = new Worker(s.key, s.node, plugin, join(dir, `${s.key}.json`), binDir, bun);
      await s.worker.ready();
    }
    const [pn, ref] = sides as [Side & { worker: Worker }, Side & { worker: Worker }];
    const call = (s: Side & { worker: Worker }, verb: "ADD" | "DEL", pod: Pod) =>
      s.worker.request<CallResult>({ op: "call", verb, pod });
    const hook = join(dir, "spawn-hook.cjs");
    writeFileSync(hook, SPAWN_HOOK);
    let hooks = 0;
    /** One call of podnet (or of `bun -e 0`) with the profiling hook, and what the plugin logged for it. */
    const hooked = async (target: "plugin" | "floor", pod: Pod): Promise<HookRun | undefined> => {
      hooks += 1;
      const outFile = join(dir, `hook-${hooks}.json`);
      const r = await pn.worker.request<CallResult>({ op: "hooked", target, verb: "ADD", pod, hook, outFile });
      if (!r.ok) return undefined;
      const run = JSON.parse(readFileSync(outFile, "utf8")) as HookRun;
      return { ...run, wallMs: r.ms, log: target === "plugin" ? loggedCall(podnetLog, pod.id) : undefined };
    };
    const record = (s: Side, list: number[], r: CallResult, what: string) => {
      if (r.ok) list.push(r.ms);
      else series[s.key].failures.push(`${what}: ${r.error}`);
    };

    // The first ADD on a fresh node creates the bridge and node rules: reported on its own,
    // podnet's with the profile hook so its phases show.
    for (const s of [pn, ref]) {
      const warm = { id: `${PREFIX}-warm-${s.key}`, netns: s.pods[0].netns };
      if (s === pn) {
        const run = await hooked("plugin", warm);
        if (!run) throw new Error(`${s.label}: first ADD failed`);
        series[s.key].firstAdd = run.wallMs;
        firstAddProfile = summarise([run], []);
      } else {
        const r = await call(s, "ADD", warm);
        if (!r.ok) throw new Error(`${s.label}: first ADD failed: ${r.error}`);
        series[s.key].firstAdd = r.ms;
      }
      await call(s, "DEL", warm);
    }

    process.stderr.write(`bench: ${SEQUENTIAL} sequential ADDs per plugin, interleaved with bun -e 0\n`);
    for (let i = 0; i < SEQUENTIAL; i++) {
      const order = i % 2 === 0 ? ["floor", pn, ref] : [ref, pn, "floor"];
      for (const o of order) {
        if (o === "floor") {
          const r = await pn.worker.request<CallResult>({ op: "floor" });
          if (r.ok) floor.push(r.ms);
        } else {
          const s = o as Side & { worker: Worker };
          record(s, series[s.key].add, await call(s, "ADD", { ...s.pods[i], id: `${s.pods[i].id}-seq` }), `ADD ${i}`);
        }
      }
    }
    process.stderr.write(`bench: ${SEQUENTIAL} sequential DELs per plugin\n`);
    for (let i = 0; i < SEQUENTIAL; i++) {
      for (const s of i % 2 === 0 ? [pn, ref] : [ref, pn]) {
        record(s, series[s.key].del, await call(s, "DEL", { ...s.pods[i], id: `${s.pods[i].id}-seq` }), `DEL ${i}`);
      }
    }
    process.stderr.write(`bench: cold start (CNI_COMMAND=VERSION) x${VERSION_RUNS}\n`);
    for (let i = 0; i < VERSION_RUNS; i++) {
      const v = await pn.worker.request<CallResult>({ op: "version" });
      if (v.ok) version.push(v.ms);
      const f = await pn.worker.request<CallResult>({ op: "floor" });
      if (f.ok) floorVersion.push(f.ms);
    }

    process.stderr.write(`bench: profiling ${PROFILE_RUNS} podnet ADDs from inside (preloaded hook)\n`);
    const runs: HookRun[] = [];
    const floors: HookRun[] = [];
    for (let i = 0; i < PROFILE_RUNS; i++) {
      const pod = { ...pn.pods[i], id: `${pn.pods[i].id}-prof` };
      const run = await hooked("plugin", pod);
      if (run) runs.push(run);
      await call(pn, "DEL", pod);
      const floorRun = await hooked("floor", pod);
      if (floorRun) floors.push(floorRun);
    }
    profile = summarise(runs, floors);
    coldStart = coldRuntimeStart(bun, dir);

    if (sh(["sh", "-c", "command -v strace"]).status === 0) {
      const adds: CallTrace[] = [];
      for (let i = 0; i < 3; i++) {
        const pod = { ...pn.pods[i], id: `${pn.pods[i].id}-strace` };
        const file = join(dir, `strace-add-${i}.txt`);
        const r = await pn.worker.request<CallResult>({
          op: "strace",
          target: "plugin",
          verb: "ADD",
          pod,
          traceFile: file,
        });
        if (r.ok) {
          const t = parseStrace(readFileSync(file, "utf8"));
          if (t) adds.push(t);
        }
        await call(pn, "DEL", pod);
      }
      execProfile = summariseStrace(adds);
    } else {
      profileNote = "strace is not installed (apt-get install strace): exec counts not measured.";
    }

    for (const s of [pn, ref]) {
      process.stderr.write(`bench: burst of ${BURST} concurrent ADDs (${s.label})\n`);
      const burstPods = s.pods.slice(0, BURST).map((p) => ({ ...p, id: `${p.id}-burst` }));
      const b = await s.worker.request<BurstResult>({ op: "burst", verb: "ADD", pods: burstPods });
      const okCalls = b.calls.filter((c) => c.ok);
      series[s.key].burst = {
        ok: okCalls.length,
        distinct: new Set(okCalls.map((c) => c.ip)).size,
        wallMs: b.wallMs,
        callMedian: median(b.calls.map((c) => c.ms)),
        callP95: p95(b.calls.map((c) => c.ms)),
        errors: [...new Set(b.calls.filter((c) => !c.ok).map((c) => c.error ?? "?"))].slice(0, 3),
      };
      const d = await s.worker.request<BurstResult>({ op: "burst", verb: "DEL", pods: burstPods });
      series[s.key].burstDel = { ok: d.calls.filter((c) => c.ok).length, wallMs: d.wallMs };
      series[s.key].leftover = s.leftover();
    }
  } finally {
    await cleanup();
  }

  const report = render({
    machine: machine(),
    runtime: `bun ${pinnedBunVersion()} (${bun})`,
    burstSize: BURST,
    bundleBytes: statSync(BUNDLE).size,
    series,
    floor,
    version,
    floorVersion,
    profile,
    firstAddProfile,
    coldStart,
    execProfile,
    profileNote,
    elapsedMs: Date.now() - started,
  });
  process.stdout.write(`${report}\n`);
  const out = join(REPO_ROOT, "bench-results");
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, "cni.md"), `${report}\n`);
  process.stderr.write(`bench: wrote ${join(out, "cni.md")}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`bench:cni failed: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
