// The bench's in-process profile (a hook preloaded into the plugin) and its report: the
// table of podnet, bridge+host-local and the runtime floor, the targets, where an ADD's
// time goes. test/bench/cni.ts collects the figures.
import type { ExecProfile } from "./profile";

/**
 * Preloaded with `bun --preload` into the plugin (or `bun -e 0`): times every spawnSync
 * from inside the process, without ptrace's overhead. performance.now() counts from the
 * process's start. The hook loads child_process and fs itself, which the plugin's
 * netlink-only calls would not: its cost shows in the floor column.
 */
export const SPAWN_HOOK = `"use strict";
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
    calls.push({ command: name(command, args), start, end: performance.now() });
  }
};
const fsCalls = { count: 0, ms: 0 };
for (const fn of ["readFileSync", "writeFileSync", "appendFileSync", "mkdirSync", "readdirSync", "linkSync", "renameSync", "rmSync", "statSync", "lstatSync", "existsSync", "unlinkSync", "accessSync", "readlinkSync", "openSync", "closeSync", "writeSync"]) {
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
process.on("exit", () => {
  const exitAt = performance.now();
  fs.writeFileSync(process.env.PNB_PROFILE_OUT, JSON.stringify({ hookAt, exitAt, calls, fs: fsCalls }));
});
`;

/** What the plugin logged for the call (cni/main.ts): when main began, how long the verb took. */
export interface LoggedCall {
  loadMs?: number;
  durationMs: number;
  execs?: number;
  execMs?: number;
}

export interface HookRun {
  /** Wall time the caller saw (spawn to reaped), set by the bench. */
  wallMs?: number;
  hookAt: number;
  exitAt: number;
  calls: Array<{ command: string; start: number; end: number }>;
  /** Synchronous fs calls (IPAM files, sysfs, log): count and time. */
  fs: { count: number; ms: number };
  /** The plugin's own log line for this call, when it wrote one. */
  log?: LoggedCall;
}

export interface Profile {
  runs: number;
  /** Process start to the first line of user code (the runtime's own start-up). */
  bootMs: number;
  floorBootMs: number;
  /** First user code (the hook) to the plugin's main(): loading and running the bundle's top level. */
  loadMs: number;
  /** main() to the first child process, or to the verb's end when there is none (stdin, config, IPAM, netlink). */
  preSpawnMs: number;
  childrenMs: number;
  /** The verb's time with no child running (JS, fs, netlink). */
  jsOnlyMs: number;
  /** The verb's end to the exit event (the log line, exit). */
  tailMs: number;
  fsCount: number;
  fsMs: number;
  totalMs: number;
  floorTotalMs: number;
  wallMs: number;
  floorWallMs: number;
  execs: number;
  steps: Array<{ command: string; ms: number }>;
}

export function quantile(values: number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}
export const median = (v: number[]) => quantile(v, 0.5);
export const p95 = (v: number[]) => quantile(v, 0.95);
export const ms = (v: number) => (Number.isFinite(v) ? `${v.toFixed(1)} ms` : "n/a");

function unionMs(intervals: Array<{ start: number; end: number }>): number {
  const sorted = [...intervals].sort((a, b) => a.start - b.start);
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

/** A command as one short table cell (flock's sh -c script spans lines). */
function oneLine(command: string): string {
  const text = command.replace(/\s+/g, " ");
  return text.length > 70 ? `${text.slice(0, 67)}...` : text;
}

export function summarise(runs: HookRun[], floors: HookRun[]): Profile | undefined {
  const ok = runs.filter((r) => r.log?.loadMs !== undefined);
  if (ok.length === 0) return undefined;
  const mainAt = (r: HookRun) => r.log?.loadMs ?? r.hookAt;
  const verbEnd = (r: HookRun) => mainAt(r) + (r.log?.durationMs ?? 0);
  const n = median(ok.map((r) => r.calls.length));
  const shape = ok.find((r) => r.calls.length === n) ?? ok[0];
  return {
    runs: ok.length,
    bootMs: median(ok.map((r) => r.hookAt)),
    floorBootMs: median(floors.map((f) => f.hookAt)),
    loadMs: median(ok.map((r) => mainAt(r) - r.hookAt)),
    preSpawnMs: median(ok.map((r) => (r.calls[0]?.start ?? verbEnd(r)) - mainAt(r))),
    childrenMs: median(ok.map((r) => unionMs(r.calls))),
    jsOnlyMs: median(ok.map((r) => (r.log?.durationMs ?? 0) - unionMs(r.calls))),
    tailMs: median(ok.map((r) => r.exitAt - verbEnd(r))),
    fsCount: median(ok.map((r) => r.fs.count)),
    fsMs: median(ok.map((r) => r.fs.ms)),
    totalMs: median(ok.map((r) => r.exitAt)),
    floorTotalMs: median(floors.map((f) => f.exitAt)),
    wallMs: median(ok.map((r) => r.wallMs ?? NaN)),
    floorWallMs: median(floors.map((f) => f.wallMs ?? NaN)),
    execs: n,
    steps: shape.calls.map((c, i) => ({
      command: oneLine(c.command),
      ms: median(ok.filter((r) => r.calls[i]).map((r) => r.calls[i].end - r.calls[i].start)),
    })),
  };
}

export interface Series {
  add: number[];
  del: number[];
  firstAdd?: number;
  failures: string[];
  burst?: { ok: number; distinct: number; wallMs: number; callMedian: number; callP95: number; errors: string[] };
  burstDel?: { ok: number; wallMs: number };
  leftover?: number;
}

export interface Figures {
  machine: string;
  runtime: string;
  burstSize: number;
  bundleBytes: number;
  series: Record<"podnet" | "reference", Series>;
  floor: number[];
  version: number[];
  floorVersion: number[];
  profile?: Profile;
  /** The first ADD on a fresh node, profiled like the others. */
  firstAddProfile?: Profile;
  execProfile?: ExecProfile;
  profileNote: string;
  /** `bun -e 0` with the runtime's binary out of the page cache, and warm. */
  coldStart?: { coldMs: number; warmMs: number; mib: number };
  elapsedMs: number;
}

/** The issue's goals, as ratios of podnet's median to the reference's. */
export const TARGETS = { add: 0.75, addStretch: 0.5, del: 0.75 };

const row = (cells: string[]) => `| ${cells.join(" | ")} |`;
const ratio = (a: number, b: number) => (Number.isFinite(a / b) ? `${(a / b).toFixed(2)}x` : "n/a");

export function render(f: Figures): string {
  const { series, floor, burstSize: n } = f;
  const pn = series.podnet;
  const ref = series.reference;
  const addRatio = median(pn.add) / median(ref.add);
  const delRatio = median(pn.del) / median(ref.del);
  const burstOk = pn.burst !== undefined && pn.burst.ok === n && pn.burst.distinct === n;
  const burstCell = (s: Series) =>
    s.burst
      ? `${s.burst.ok}/${n} ok, ${s.burst.distinct} distinct IPs, ${(s.burst.wallMs / 1000).toFixed(2)} s wall`
      : "n/a";
  const met = (ok: boolean) => (ok ? "MET" : "MISSED");
  const lines = [
    `# CNI bench: podnet vs reference bridge+host-local`,
    "",
    `${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC, one run on ${f.machine}; podnet on ${f.runtime}.`,
    `Each plugin in its own node netns; ${pn.add.length} sequential pods each (ADD then DEL, timed one by one, interleaved with \`bun -e 0\`); ` +
      `a burst of ${n} concurrent ADDs each. Run took ${(f.elapsedMs / 1000).toFixed(0)} s.`,
    "",
    row(["", "podnet", "bridge+host-local", "podnet ÷ reference", "`bun -e 0` (floor)"]),
    row(["---", "---", "---", "---", "---"]),
    row([
      "ADD median",
      ms(median(pn.add)),
      ms(median(ref.add)),
      ratio(median(pn.add), median(ref.add)),
      ms(median(floor)),
    ]),
    row(["ADD p95", ms(p95(pn.add)), ms(p95(ref.add)), ratio(p95(pn.add), p95(ref.add)), ms(p95(floor))]),
    row(["DEL median", ms(median(pn.del)), ms(median(ref.del)), ratio(median(pn.del), median(ref.del)), ""]),
    row(["DEL p95", ms(p95(pn.del)), ms(p95(ref.del)), ratio(p95(pn.del), p95(ref.del)), ""]),
    row([
      "first ADD on a fresh node (creates the bridge and rules)",
      ms(pn.firstAdd ?? NaN),
      ms(ref.firstAdd ?? NaN),
      ratio(pn.firstAdd ?? NaN, ref.firstAdd ?? NaN),
      "",
    ]),
    row([
      `burst: ${n} concurrent ADDs`,
      burstCell(pn),
      burstCell(ref),
      ratio(pn.burst?.wallMs ?? NaN, ref.burst?.wallMs ?? NaN),
      "",
    ]),
    row([
      "burst: per-call median / p95",
      pn.burst ? `${ms(pn.burst.callMedian)} / ${ms(pn.burst.callP95)}` : "n/a",
      ref.burst ? `${ms(ref.burst.callMedian)} / ${ms(ref.burst.callP95)}` : "n/a",
      ratio(pn.burst?.callMedian ?? NaN, ref.burst?.callMedian ?? NaN),
      "",
    ]),
    row([
      `burst: ${n} concurrent DELs`,
      pn.burstDel ? `${pn.burstDel.ok}/${n} ok, ${(pn.burstDel.wallMs / 1000).toFixed(2)} s` : "n/a",
      ref.burstDel ? `${ref.burstDel.ok}/${n} ok, ${(ref.burstDel.wallMs / 1000).toFixed(2)} s` : "n/a",
      ratio(pn.burstDel?.wallMs ?? NaN, ref.burstDel?.wallMs ?? NaN),
      "",
    ]),
    row(["reservations left after all DELs", String(pn.leftover ?? "n/a"), String(ref.leftover ?? "n/a"), "", ""]),
    row(["failed calls (sequential)", String(pn.failures.length), String(ref.failures.length), "", ""]),
    "",
    `Bundle: dist/podnet ${(f.bundleBytes / 1024).toFixed(1)} KiB. Cold start (\`CNI_COMMAND=VERSION\`, ${f.version.length} runs): median ${ms(median(f.version))}, ` +
      `p95 ${ms(p95(f.version))}; \`bun -e 0\` alongside: median ${ms(median(f.floorVersion))} ` +
      `(loading the bundle ≈ ${ms(median(f.version) - median(f.floorVersion))}).`,
    "",
    "Targets (podnet's median as a ratio of the reference's, this run):",
    `- ADD at most ${TARGETS.add}x: ${ratio(median(pn.add), median(ref.add))}: ${met(addRatio <= TARGETS.add)}; stretch ${TARGETS.addStretch}x: ${met(addRatio <= TARGETS.addStretch)}.`,
    `- DEL at most ${TARGETS.del}x: ${ratio(median(pn.del), median(ref.del))}: ${met(delRatio <= TARGETS.del)}.`,
    `- burst ${n}/${n} with ${n} distinct IPs: ${met(burstOk)}${pn.burst?.errors.length ? ` (errors: ${pn.burst.errors.join("; ")})` : ""}.`,
  ];
  if (f.profile)
    lines.push(
      "",
      ...profileTable(
        `Where podnet's ADD spends its time (${f.profile.runs} calls, medians, timed inside the process)`,
        f.profile,
      ),
    );
  if (f.firstAddProfile) lines.push("", ...profileTable("The first ADD on a fresh node (one call)", f.firstAddProfile));
  if (f.coldStart) {
    const c = f.coldStart;
    lines.push(
      "",
      `The first call after Bun is installed or the node boots also reads the runtime's ${c.mib.toFixed(0)} MiB binary: ` +
        `\`bun -e 0\` took ${ms(c.coldMs)} with the binary out of the page cache, ${ms(c.warmMs)} warm (this machine's disk).`,
    );
  }
  if (f.profile) {
    lines.push(
      "",
      "The hook preloaded into both columns loads child_process and fs first; the floor column's boot-to-exit is that load. " +
        "The bundle load is the hook's end to the plugin's main() (cni/main.ts logs it as loadMs).",
    );
  }
  if (f.execProfile) {
    const e = f.execProfile;
    lines.push(
      "",
      `strace: ${e.processes} child process${e.processes === 1 ? "" : "es"} and ${e.execs} successful execs per ADD ` +
        `(plus \`/usr/bin/env\` and bun for the plugin itself)${e.commands.length ? `: ${e.commands.map((c) => `\`${c}\``).join(", ")}` : ""}.`,
    );
  } else if (f.profileNote) {
    lines.push("", f.profileNote);
  }
  const failures = [...pn.failures.map((x) => `podnet ${x}`), ...ref.failures.map((x) => `reference ${x}`)];
  if (failures.length > 0) lines.push("", "Failed calls:", ...failures.slice(0, 10).map((x) => `- ${x}`));
  return lines.join("\n");
}

function profileTable(title: string, p: Profile): string[] {
  return [
    `## ${title}`,
    "",
    row(["phase", "podnet ADD", "`bun -e 0`"]),
    row(["---", "---", "---"]),
    row(["runtime start-up (process start to first user code)", ms(p.bootMs), ms(p.floorBootMs)]),
    row(["bundle load (to the plugin's main)", ms(p.loadMs), ""]),
    row([
      `main to the first child process${p.execs === 0 ? " (none: to the verb's end)" : ""} (stdin, config, IPAM, netlink)`,
      ms(p.preSpawnMs),
      "",
    ]),
    ...p.steps.map((st, i) => row([`child ${i + 1}: \`${st.command}\``, ms(st.ms), ""])),
    row(["time with any child running", ms(p.childrenMs), ""]),
    row(["verb time with no child running (JS, fs, netlink)", ms(p.jsOnlyMs), ""]),
    // Under Bun the plugin's file calls are libc through bun:ffi (cni/fs.ts), which the hook does not see.
    ...(p.fsCount > 0 ? [row([`of which node:fs calls (${p.fsCount}: IPAM files, sysfs, log)`, ms(p.fsMs), ""])] : []),
    row(["tail (log line, exit)", ms(p.tailMs), ""]),
    row(["process start to the exit event", ms(p.totalMs), ms(p.floorTotalMs)]),
    row(["wall time seen by the caller (exec to reaped)", ms(p.wallMs), ms(p.floorWallMs)]),
  ];
}
