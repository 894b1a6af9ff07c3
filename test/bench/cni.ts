// npm run bench:cni: podnet next to Debian's reference bridge + host-local, on one
// machine in one run. Each plugin gets a node netns of its own (pnb-*) and a worker there
// that execs it as a runtime would; the workers are driven in lock step so the samples of
// podnet, the reference and `node -e 0` (the floor of any Node-hosted plugin) interleave.
//
// Measures: ADD and DEL latency (median, p95) over sequential pods, a burst of concurrent
// ADDs (successes, distinct IPs, wall time), the bundle's size and cold start (VERSION),
// and, when strace is installed, a profile of podnet's ADD (processes, exec cost, JS time).
// Prints a table and writes bench-results/cni.md. Removes every namespace it made.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { cpus, release } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { renderConflist } from "../../cni/conflist";
import { IpamStore } from "../../cni/ipam";
import { parseCidr } from "../../cni/ipv4";
import { BUNDLE, CLUSTER_CIDR, ensureBundle, installCniBin, workerNode } from "../runtimes/cni";
import { HostTraces, REPO_ROOT, describeCmd, nodeLockFile, onNode, requireRoot, requireTools, sh, tempDir, withPrivateVarLog } from "../runtimes/host";
import { CallTrace, parseStrace } from "./profile";
import type { BurstResult, CallResult, Pod, Request } from "./worker";

const SEQUENTIAL = Number(process.env.PNB_PODS ?? 60);
const BURST = Number(process.env.PNB_BURST ?? 100);
const VERSION_RUNS = 30;
const PROFILE_RUNS = 10;
const PREFIX = `pnb-${process.pid}`;

// ---------------------------------------------------------------------------- stats

function quantile(values: number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}
const median = (v: number[]) => quantile(v, 0.5);
const p95 = (v: number[]) => quantile(v, 0.95);
const ms = (v: number) => (Number.isFinite(v) ? `${v.toFixed(1)} ms` : "n/a");

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
    codeCacheDir: string,
  ) {
    // A private mount namespace with a tmpfs on /var/log: podnet logs VERSION calls to
    // /var/log/podnet.log whatever the config says, and the bench must not write there.
    // As on a node: the plugin sees the node's own sysfs (where it reads the bridge).
    const argv = onNode(
      nodeNetns,
      withPrivateVarLog([process.execPath, "--import", "tsx", join(REPO_ROOT, "test", "bench", "worker.ts"), plugin, configFile, cniPath]),
    );
    const env: NodeJS.ProcessEnv = { ...process.env, PODNET_CODE_CACHE_DIR: codeCacheDir };
    delete env.NODE_OPTIONS;
    this.child = spawn(argv[0], argv.slice(1), { cwd: REPO_ROOT, env, stdio: ["pipe", "pipe", "pipe"] });
    this.child.stderr.setEncoding("utf8").on("data", (d: string) => (this.stderr += d));
    createInterface({ input: this.child.stdout }).on("line", (line) => this.waiting.shift()?.(line));
    this.child.on("exit", (code) => {
      for (const w of this.waiting.splice(0)) w(JSON.stringify({ error: `worker ${name} exited ${code}: ${this.stderr.slice(-1000)}` }));
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
    if (parsed && typeof parsed === "object" && "error" in parsed && !("ms" in parsed)) throw new Error(`worker ${this.name}: ${parsed.error}`);
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
  /** podnet: the pods of the sequential ADDs run with the code cache off. */
  uncachedPods?: Pod[];
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
  return `${cpus().length} cores (${model}), ${debian}, kernel ${release()}, node ${process.version}, containernetworking-plugins ${plugins || "?"}`;
}

// ---------------------------------------------------------------------------- profile

/**
 * Preloaded with `node -r` into the plugin (or `node -e 0`): times every spawnSync from
 * inside the process, without ptrace's overhead. performance.now() counts from process start.
 */
const SPAWN_HOOK = `"use strict";
const { performance } = require("node:perf_hooks");
const hookAt = performance.now();
const cp = require("node:child_process");
const fs = require("node:fs");
const calls = [];
const name = (command, args) => [command].concat(Array.isArray(args) ? args : []).join(" ");
const spawnSync = cp.spawnSync;
cp.spawnSync = function (command, args) {
  const start = performance.now();
  try {
    return spawnSync.apply(this, arguments);
  } finally {
    calls.push({ command: name(command, args), start, end: performance.now(), background: false });
  }
};
const fsCalls = { count: 0, ms: 0 };
for (const fn of ["readFileSync", "writeFileSync", "appendFileSync", "mkdirSync", "readdirSync", "linkSync", "renameSync", "rmSync", "statSync", "existsSync", "unlinkSync", "accessSync"]) {
  const original = fs[fn];
  fs[fn] = function () {
    const start = performance.now();
    try {
      return original.apply(this, arguments);
    } finally {
      fsCalls.count += 1;
      fsCalls.ms += performance.now() - start;
    }
  };
}
const spawn = cp.spawn;
cp.spawn = function (command, args) {
  const start = performance.now();
  const child = spawn.apply(this, arguments);
  const call = { command: name(command, args), start, end: NaN, background: true };
  calls.push(call);
  child.on("exit", () => { call.end = performance.now(); });
  return child;
};
process.on("exit", () => {
  calls.sort((a, b) => a.start - b.start);
  const exitAt = performance.now();
  fs.writeFileSync(process.env.PNB_PROFILE_OUT, JSON.stringify({ hookAt, exitAt, calls, fs: fsCalls }));
});
`;

interface HookRun {
  /** Wall time the caller saw (spawn to reaped), set by the bench. */
  wallMs?: number;
  hookAt: number;
  exitAt: number;
  calls: Array<{ command: string; start: number; end: number; background: boolean }>;
  /** Synchronous fs calls (IPAM files, boot id, log): count and time. */
  fs: { count: number; ms: number };
}

interface Profile {
  runs: number;
  /** Process start to the first line of user code (node's own bootstrap). */
  bootMs: number;
  floorBootMs: number;
  floorTotalMs: number;
  /** A VERSION call's user-code time: loading the bundle plus a trivial verb. */
  versionJsMs: number;
  floorJsMs: number;
  /** User code start (bundle load, stdin, config) to the first process. */
  preSpawnMs: number;
  /** Time at least one child process was running. */
  childrenMs: number;
  /** User code time with no child running (JS, fs, waiting for nothing). */
  jsOnlyMs: number;
  tailMs: number;
  fsCount: number;
  fsMs: number;
  totalMs: number;
  wallMs: number;
  floorWallMs: number;
  steps: Array<{ command: string; ms: number; background: boolean }>;
}

function unionMs(intervals: Array<{ start: number; end: number }>): number {
  const sorted = intervals.filter((i) => Number.isFinite(i.end)).sort((a, b) => a.start - b.start);
  let total = 0;
  let curStart = -Infinity;
  let curEnd = -Infinity;
  for (const i of sorted) {
    if (i.start > curEnd) {
      if (curEnd > curStart) total += curEnd - curStart;
      curStart = i.start;
      curEnd = i.end;
    } else {
      curEnd = Math.max(curEnd, i.end);
    }
  }
  if (curEnd > curStart) total += curEnd - curStart;
  return total;
}

function summarise(runs: HookRun[], floors: HookRun[], versions: HookRun[]): Profile | undefined {
  const ok = runs.filter((r) => r.calls.length > 0);
  if (ok.length === 0) return undefined;
  const n = median(ok.map((r) => r.calls.length));
  const shape = ok.find((r) => r.calls.length === n) ?? ok[0];
  const lastEnd = (r: HookRun) => Math.max(...r.calls.map((c) => (Number.isFinite(c.end) ? c.end : r.exitAt)));
  return {
    runs: ok.length,
    bootMs: median(ok.map((r) => r.hookAt)),
    floorBootMs: median(floors.map((f) => f.hookAt)),
    floorTotalMs: median(floors.map((f) => f.exitAt)),
    versionJsMs: median(versions.map((v) => v.exitAt - v.hookAt)),
    floorJsMs: median(floors.map((f) => f.exitAt - f.hookAt)),
    preSpawnMs: median(ok.map((r) => r.calls[0].start - r.hookAt)),
    childrenMs: median(ok.map((r) => unionMs(r.calls))),
    jsOnlyMs: median(ok.map((r) => r.exitAt - r.hookAt - unionMs(r.calls))),
    tailMs: median(ok.map((r) => r.exitAt - lastEnd(r))),
    fsCount: median(ok.map((r) => r.fs.count)),
    fsMs: median(ok.map((r) => r.fs.ms)),
    totalMs: median(ok.map((r) => r.exitAt)),
    wallMs: median(ok.map((r) => r.wallMs ?? NaN)),
    floorWallMs: median(floors.map((f) => f.wallMs ?? NaN)),
    steps: shape.calls.map((c, i) => ({
      command: c.command.length > 70 ? `${c.command.slice(0, 67)}...` : c.command,
      ms: median(ok.filter((r) => r.calls[i]).map((r) => r.calls[i].end - r.calls[i].start)),
      background: c.background,
    })),
  };
}

interface ExecProfile {
  processes: number;
  execs: number;
  commands: string[];
}

function summariseStrace(traces: CallTrace[]): ExecProfile | undefined {
  const ok = traces.filter((t) => t.exitAt > 0);
  if (ok.length === 0) return undefined;
  return {
    processes: median(ok.map((t) => t.children.length)),
    execs: median(ok.map((t) => t.children.reduce((n, c) => n + c.execs, 0))),
    commands: ok[0].children.map((c) => `${c.command}${c.execs > 1 ? ` (${c.execs} execs)` : ""}`),
  };
}

// ---------------------------------------------------------------------------- main

interface Series {
  add: number[];
  /** podnet only: sequential ADDs with PODNET_CODE_CACHE=off. */
  addUncached: number[];
  del: number[];
  firstAdd?: number;
  failures: string[];
  burst?: { ok: number; distinct: number; wallMs: number; callMedian: number; callP95: number; errors: string[] };
  burstDel?: { ok: number; wallMs: number };
  leftover?: number;
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

  // podnet's config as a runtime hands it over: the conflist's podnet entry plus name and version.
  const conflist = renderConflist(node, { clusterCidr: CLUSTER_CIDR, dataDir: join(dir, "podnet-ipam"), logFile: join(dir, "podnet.log"), portmap: false });
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
    Array.from({ length: Math.max(SEQUENTIAL, BURST, PROFILE_RUNS) }, (_, i) => ({ id: `${PREFIX}-${tag}-${i}`, netns: `/run/netns/${PREFIX}-${tag}${i}` }));
  const sides: Side[] = [
    {
      key: "podnet",
      label: "podnet",
      node: `${PREFIX}-podnet`,
      pods: pods("p"),
      uncachedPods: pods("n").slice(0, SEQUENTIAL),
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
    const names = sides.flatMap((s) => [s.node, ...[...s.pods, ...(s.uncachedPods ?? [])].map((p) => p.netns.slice("/run/netns/".length))]);
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
    for (const e of [...errors, ...left.map((l) => `left behind: ${l}`)]) process.stderr.write(`bench: cleanup: ${e}\n`);
  };
  const onSignal = () => {
    void cleanup().finally(() => process.exit(130));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);

  const series: Record<Side["key"], Series> = { podnet: { add: [], addUncached: [], del: [], failures: [] }, reference: { add: [], addUncached: [], del: [], failures: [] } };
  const floor: number[] = [];
  const version: number[] = [];
  const floorVersion: number[] = [];
  let profile: Profile | undefined;
  let execProfile: ExecProfile | undefined;
  let profileNote = "";
  try {
    // Namespaces: one node and its pods per plugin, made by one ip process.
    ipBatch(sides.flatMap((s) => [`netns add ${s.node}`, ...[...s.pods, ...(s.uncachedPods ?? [])].map((p) => `netns add ${p.netns.slice("/run/netns/".length)}`)]));
    for (const s of sides) {
      sh(["ip", "-n", s.node, "link", "set", "lo", "up"]);
      lockFiles.push(nodeLockFile(s.node));
    }
    for (const s of sides) {
      const plugin = s.key === "podnet" ? podnetPlugin : join(binDir, "bridge");
      s.worker = new Worker(s.key, s.node, plugin, join(dir, `${s.key}.json`), binDir, join(dir, "codecache"));
      await s.worker.ready();
    }
    const [pn, ref] = sides as [Side & { worker: Worker }, Side & { worker: Worker }];
    const call = (s: Side & { worker: Worker }, verb: "ADD" | "DEL", pod: Pod, codeCache?: "off") =>
      s.worker.request<CallResult>({ op: "call", verb, pod, codeCache });
    const record = (s: Side, list: number[], r: CallResult, what: string) => {
      if (r.ok) list.push(r.ms);
      else series[s.key].failures.push(`${what}: ${r.error}`);
    };

    // First ADD on a fresh node creates the bridge and node rules (and, for podnet, saves
    // the ADD code cache): reported on its own.
    for (const s of [pn, ref]) {
      const warm = { id: `${PREFIX}-warm-${s.key}`, netns: s.pods[0].netns };
      const r = await call(s, "ADD", warm);
      if (!r.ok) throw new Error(`${s.label}: first ADD failed: ${r.error}`);
      series[s.key].firstAdd = r.ms;
      await call(s, "DEL", warm);
    }

    process.stderr.write(`bench: ${SEQUENTIAL} sequential ADDs per plugin, interleaved with node -e 0 and podnet without code cache\n`);
    const uncached = pn.uncachedPods ?? [];
    for (let i = 0; i < SEQUENTIAL; i++) {
      const order = i % 2 === 0 ? ["floor", pn, "uncached", ref] : [ref, "uncached", pn, "floor"];
      for (const o of order) {
        if (o === "floor") {
          const r = await pn.worker.request<CallResult>({ op: "floor" });
          if (r.ok) floor.push(r.ms);
        } else if (o === "uncached") {
          // Not deleted until the end: a DEL's kernel clean-up runs on after it returns and
          // would slow the calls timed next.
          record(pn, series.podnet.addUncached, await call(pn, "ADD", { ...uncached[i], id: `${uncached[i].id}-seq` }, "off"), `ADD ${i} (code cache off)`);
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
    for (const pod of uncached) {
      const r = await call(pn, "DEL", { ...pod, id: `${pod.id}-seq` });
      if (!r.ok) series.podnet.failures.push(`DEL ${pod.id} (code cache off pod): ${r.error}`);
    }

    process.stderr.write(`bench: cold start (CNI_COMMAND=VERSION) x${VERSION_RUNS}\n`);
    for (let i = 0; i < VERSION_RUNS; i++) {
      const v = await pn.worker.request<CallResult>({ op: "version" });
      if (v.ok) version.push(v.ms);
      const f = await pn.worker.request<CallResult>({ op: "floor" });
      if (f.ok) floorVersion.push(f.ms);
    }

    process.stderr.write(`bench: profiling ${PROFILE_RUNS} podnet ADDs from inside (spawnSync hook)\n`);
    const hook = join(dir, "spawn-hook.cjs");
    writeFileSync(hook, SPAWN_HOOK);
    const hooked: HookRun[] = [];
    const hookedFloor: HookRun[] = [];
    const hookedVersion: HookRun[] = [];
    for (let i = 0; i < PROFILE_RUNS; i++) {
      const pod = { ...pn.pods[i], id: `${pn.pods[i].id}-prof` };
      const out = join(dir, `hook-add-${i}.json`);
      const r = await pn.worker.request<CallResult>({ op: "hooked", target: "plugin", verb: "ADD", pod, hook, outFile: out });
      if (r.ok) hooked.push({ ...(JSON.parse(readFileSync(out, "utf8")) as HookRun), wallMs: r.ms });
      await call(pn, "DEL", pod);
      const fout = join(dir, `hook-floor-${i}.json`);
      const f = await pn.worker.request<CallResult>({ op: "hooked", target: "floor", verb: "ADD", pod, hook, outFile: fout });
      if (f.ok) hookedFloor.push({ ...(JSON.parse(readFileSync(fout, "utf8")) as HookRun), wallMs: f.ms });
      const vout = join(dir, `hook-version-${i}.json`);
      const v = await pn.worker.request<CallResult>({ op: "hooked", target: "version", verb: "ADD", pod, hook, outFile: vout });
      if (v.ok) hookedVersion.push(JSON.parse(readFileSync(vout, "utf8")) as HookRun);
    }
    profile = summarise(hooked, hookedFloor, hookedVersion);

    if (sh(["sh", "-c", "command -v strace"]).status === 0) {
      const adds: CallTrace[] = [];
      for (let i = 0; i < 3; i++) {
        const pod = { ...pn.pods[i], id: `${pn.pods[i].id}-strace` };
        const file = join(dir, `strace-add-${i}.txt`);
        const r = await pn.worker.request<CallResult>({ op: "strace", target: "plugin", verb: "ADD", pod, traceFile: file });
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

  const report = render(series, floor, version, floorVersion, profile, execProfile, profileNote, Date.now() - started);
  process.stdout.write(`${report}\n`);
  const out = join(REPO_ROOT, "bench-results");
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, "cni.md"), `${report}\n`);
  process.stderr.write(`bench: wrote ${join(out, "cni.md")}\n`);
}

// ---------------------------------------------------------------------------- report

function render(
  series: Record<"podnet" | "reference", Series>,
  floor: number[],
  version: number[],
  floorVersion: number[],
  profile: Profile | undefined,
  execProfile: ExecProfile | undefined,
  profileNote: string,
  elapsedMs: number,
): string {
  const pn = series.podnet;
  const ref = series.reference;
  const gap = median(pn.add) - median(floor);
  const burstOk = pn.burst && pn.burst.ok === BURST && pn.burst.distinct === BURST;
  const size = statSync(BUNDLE).size;
  const row = (cells: string[]) => `| ${cells.join(" | ")} |`;
  const burstCell = (s: Series) => (s.burst ? `${s.burst.ok}/${BURST} ok, ${s.burst.distinct} distinct IPs, ${(s.burst.wallMs / 1000).toFixed(2)} s wall` : "n/a");
  const lines = [
    `# CNI bench: podnet vs reference bridge+host-local`,
    "",
    `${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC, one run on ${machine()}.`,
    `Each plugin in its own node netns; ${pn.add.length} sequential pods each (ADD then DEL, timed one by one, interleaved with \`node -e 0\` and, for podnet, ${pn.addUncached.length} more ADDs with the code cache off); ` +
      `a burst of ${BURST} concurrent ADDs each. Run took ${(elapsedMs / 1000).toFixed(0)} s.`,
    "",
    row(["", "podnet", "bridge+host-local", "`node -e 0` (floor)"]),
    row(["---", "---", "---", "---"]),
    row(["ADD median", ms(median(pn.add)), ms(median(ref.add)), ms(median(floor))]),
    row(["ADD p95", ms(p95(pn.add)), ms(p95(ref.add)), ms(p95(floor))]),
    row(["ADD median, code cache off (`PODNET_CODE_CACHE=off`)", ms(median(pn.addUncached)), "", ""]),
    row(["DEL median", ms(median(pn.del)), ms(median(ref.del)), ""]),
    row(["DEL p95", ms(p95(pn.del)), ms(p95(ref.del)), ""]),
    row(["first ADD (creates bridge, rules; podnet: saves the code cache)", ms(pn.firstAdd ?? NaN), ms(ref.firstAdd ?? NaN), ""]),
    row([`burst: ${BURST} concurrent ADDs`, burstCell(pn), burstCell(ref), ""]),
    row([
      "burst: per-call median / p95",
      pn.burst ? `${ms(pn.burst.callMedian)} / ${ms(pn.burst.callP95)}` : "n/a",
      ref.burst ? `${ms(ref.burst.callMedian)} / ${ms(ref.burst.callP95)}` : "n/a",
      "",
    ]),
    row([
      `burst: ${BURST} concurrent DELs`,
      pn.burstDel ? `${pn.burstDel.ok}/${BURST} ok, ${(pn.burstDel.wallMs / 1000).toFixed(2)} s` : "n/a",
      ref.burstDel ? `${ref.burstDel.ok}/${BURST} ok, ${(ref.burstDel.wallMs / 1000).toFixed(2)} s` : "n/a",
      "",
    ]),
    row(["reservations left after all DELs", String(pn.leftover ?? "n/a"), String(ref.leftover ?? "n/a"), ""]),
    row(["failed calls (sequential)", String(pn.failures.length), String(ref.failures.length), ""]),
    "",
    `Bundle: dist/podnet ${(size / 1024).toFixed(1)} KiB. Cold start (\`CNI_COMMAND=VERSION\`, ${version.length} runs): median ${ms(median(version))}, ` +
      `p95 ${ms(p95(version))}; \`node -e 0\` alongside: median ${ms(median(floorVersion))} ` +
      `(bundle load and JS start-up ≈ ${ms(median(version) - median(floorVersion))}).`,
    "",
    "Targets:",
    `- ADD median within 15 ms of \`node -e 0\`: podnet is ${ms(gap)} above the floor: ${gap <= 15 ? "MET" : "MISSED"}.`,
    `- burst ${BURST}/${BURST} with ${BURST} distinct IPs: ${burstOk ? "MET" : "MISSED"}${
      pn.burst && pn.burst.errors.length ? ` (errors: ${pn.burst.errors.join("; ")})` : ""
    }.`,
  ];
  if (profile) {
    lines.push(
      "",
      `## Where podnet's ADD spends its time (${profile.runs} calls, medians, timed inside the process by a preloaded hook)`,
      "",
      row(["phase", "podnet ADD", "`node -e 0`"]),
      row(["---", "---", "---"]),
      row(["node bootstrap (process start to first user code)", ms(profile.bootMs), ms(profile.floorBootMs)]),
      row(["user code to the first child process (bundle load, stdin, config)", ms(profile.preSpawnMs), ""]),
      ...profile.steps.map((st, i) =>
        row([`child ${i + 1}${st.background ? " (background spawn)" : " (spawnSync)"}: \`${st.command}\``, ms(st.ms), ""]),
      ),
      row(["time with any child running", ms(profile.childrenMs), ""]),
      row(["user-code time with no child running (JS, fs)", ms(profile.jsOnlyMs), ms(profile.floorJsMs)]),
      row([`of which synchronous fs calls (${profile.fsCount}: IPAM files, boot id, log)`, ms(profile.fsMs), ""]),
      row(["after the last child exits (result, log, exit)", ms(profile.tailMs), ""]),
      row(["process start to the exit event", ms(profile.totalMs), ms(profile.floorTotalMs)]),
      row(["wall time seen by the caller (exec to reaped)", ms(profile.wallMs), ms(profile.floorWallMs)]),
      "",
      `A hooked VERSION call spends ${ms(profile.versionJsMs)} in user code (bundle load and compile plus a trivial verb); ` +
        `\`node -e 0\` spends ${ms(profile.floorJsMs)}. The hook itself loads child_process and fs first (≈2-3 ms), ` +
        "which the plugin needs anyway; in the floor column that load is the hook's own. A background spawn's end is when " +
        "node saw it exit, which waits for synchronous work in progress.",
    );
  }
  if (execProfile) {
    lines.push(
      "",
      `strace: ${execProfile.processes} child process${execProfile.processes === 1 ? "" : "es"} and ${execProfile.execs} successful execs per ADD ` +
        `(plus \`/usr/bin/env\` and node for the plugin itself): ${execProfile.commands.map((c) => `\`${c}\``).join(", ")}.`,
    );
  } else if (profileNote) {
    lines.push("", profileNote);
  }
  const failures = [...pn.failures.map((f) => `podnet ${f}`), ...ref.failures.map((f) => `reference ${f}`)];
  if (failures.length > 0) lines.push("", "Failed calls:", ...failures.slice(0, 10).map((f) => `- ${f}`));
  return lines.join("\n");
}

main().catch((e: unknown) => {
  process.stderr.write(`bench:cni failed: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
