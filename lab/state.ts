// The lab's state file and its teardown. The state file is written before anything is
// created and updated as pieces come up, so `lab down`, the next run and the exit
// handlers all know what to remove. Teardown only ever touches what carries the lab's
// prefix: its namespaces (and the processes inside them, by pid), its run dir and the
// lock files the plugin made for its nodes.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { NETFILTER_LOCK_DIR, netfilterLockFile } from "../cni/netfilter";
import { stopPids } from "./agents";
import { collectEvidence } from "./evidence";
import { labNamespacePattern, RUN_ROOT, runDirOf } from "./labPlan";
import { NETNS_DIR, netnsPath, runSync } from "./sh";

export interface LabState {
  prefix: string;
  /** The lab process; a live one means the lab is running right now. */
  controllerPid: number;
  startedAt: string;
  keep: boolean;
  workers: number;
  /** Namespaces in the order teardown deletes them (pods first). */
  namespaces: string[];
  /** Agent pids (they run from the run dir; any other process in a lab namespace is found by ip netns pids). */
  pids: number[];
}

export function stateFileOf(prefix: string): string {
  return join(runDirOf(prefix), "state.json");
}

export function readState(prefix: string): LabState | undefined {
  try {
    return JSON.parse(readFileSync(stateFileOf(prefix), "utf8")) as LabState;
  } catch {
    return undefined;
  }
}

export function writeState(state: LabState): void {
  mkdirSync(runDirOf(state.prefix), { recursive: true, mode: 0o700 });
  const file = stateFileOf(state.prefix);
  writeFileSync(`${file}.tmp`, `${JSON.stringify(state, null, 2)}\n`);
  // rename: a reader never sees half a file
  runSync(["mv", "-f", `${file}.tmp`, file]);
}

/** The lab process of that state, when it is still running (and really is a lab). */
export function liveController(state: LabState | undefined): number | undefined {
  if (!state || state.controllerPid === process.pid) return undefined;
  try {
    const cmdline = readFileSync(`/proc/${state.controllerPid}/cmdline`, "utf8");
    return /lab[/\\]main/.test(cmdline) ? state.controllerPid : undefined;
  } catch {
    return undefined;
  }
}

export function listNetns(): string[] {
  const ran = runSync(["ip", "netns", "list"]);
  if (ran.status !== 0) return [];
  return ran.stdout
    .split("\n")
    .map((l) => l.trim().split(/\s+/)[0])
    .filter(Boolean);
}

/** Every namespace this prefix owns: from the state file, plus any the naming pattern finds. */
export function labNamespaces(prefix: string, state?: LabState): string[] {
  const pattern = labNamespacePattern(prefix);
  const present = new Set(listNetns());
  const fromState = (state?.namespaces ?? []).filter((n) => present.has(n));
  const found = [...present].filter((n) => pattern.test(n) && !fromState.includes(n));
  // pods (three dashes after the prefix at most) before nodes, nodes before router/internet
  const rank = (n: string) => (/-(web|shell|dns)$/.test(n) ? 0 : /-(router|internet|admin)$/.test(n) ? 2 : 1);
  return [...fromState, ...found].sort((a, b) => rank(a) - rank(b));
}

export function netnsPids(netns: string): number[] {
  const ran = runSync(["ip", "netns", "pids", netns]);
  if (ran.status !== 0) return [];
  return ran.stdout
    .split("\n")
    .map((l) => Number(l.trim()))
    .filter((n) => Number.isInteger(n) && n > 1);
}

/** The plugin's lock file for a lab node (cni/netfilter.ts), while its namespace exists. */
function nodeLockFile(netns: string): string | undefined {
  try {
    return netfilterLockFile(netnsPath(netns));
  } catch {
    return undefined;
  }
}

/** Processes running the lab's agent from its run dir (found even in a namespace already deleted). */
export function agentProcesses(prefix: string): number[] {
  const marker = `${runDirOf(prefix)}/agent.js`;
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").includes(marker)) found.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return found;
}

export interface TeardownReport {
  namespaces: string[];
  processes: number;
  runDir: boolean;
  /** Where the evidence was kept, when it was asked for. */
  evidenceDir?: string;
  problems: string[];
}

export interface TeardownOptions {
  /** Keep the evidence of a failed run here (lab/evidence.ts) before removing anything. */
  readonly keepEvidenceIn?: string;
}

/**
 * Removes everything a lab with this prefix made. Never throws: it keeps going and
 * reports what it could not remove.
 */
export async function teardown(prefix: string, options: TeardownOptions = {}): Promise<TeardownReport> {
  const state = readState(prefix);
  const report: TeardownReport = { namespaces: [], processes: 0, runDir: false, problems: [] };
  if (options.keepEvidenceIn !== undefined) {
    // While the namespaces still exist: their addresses, routes and rules are evidence too.
    report.problems.push(...collectEvidence(prefix, labNamespaces(prefix, state), options.keepEvidenceIn));
    report.evidenceDir = options.keepEvidenceIn;
  }
  const marker = `${runDirOf(prefix)}/`;
  // A lab interrupted mid-step may create one more namespace or agent while this runs:
  // repeat until a pass finds nothing.
  for (let pass = 0; pass < 3; pass++) {
    const namespaces = labNamespaces(prefix, state);
    // 1. processes: every process inside the lab's namespaces is one the lab started
    //    (agents, iperf3, a plugin call cut short); so are the ones running the agent
    //    from the run dir, and recorded pids whose command line still points there.
    const pids = new Set<number>();
    for (const ns of namespaces) for (const pid of netnsPids(ns)) pids.add(pid);
    for (const pid of [...(state?.pids ?? []), ...agentProcesses(prefix)]) {
      try {
        if (readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(marker)) pids.add(pid);
      } catch {
        // gone
      }
    }
    if (pass > 0 && namespaces.length === 0 && pids.size === 0) break;
    report.processes += (await stopPids([...pids])).length;
    // 2. namespaces: deleting one deletes its links, routes, rules and conntrack entries;
    //    the plugin's lock file for a node is keyed by the namespace's nsfs inode.
    for (const ns of namespaces) {
      const lock = /-(control-plane|worker-\d+)$/.test(ns) ? nodeLockFile(ns) : undefined;
      const ran = runSync(["ip", "netns", "del", ns]);
      if (ran.status === 0 || !existsSync(join(NETNS_DIR, ns))) {
        if (!report.namespaces.includes(ns)) report.namespaces.push(ns);
        if (lock !== undefined) rmSync(lock, { force: true });
      } else {
        report.problems.push(`ip netns del ${ns}: ${ran.stderr.trim()}`);
      }
    }
  }
  // 3. the run dir (IPAM stores, logs, conflists, the CNI bin dir, the result cache, state)
  const dir = runDirOf(prefix);
  if (existsSync(dir)) {
    try {
      rmSync(dir, { recursive: true, force: true });
      report.runDir = true;
    } catch (e) {
      report.problems.push(`rm -rf ${dir}: ${(e as Error).message}`);
    }
  }
  removeIfEmpty(RUN_ROOT);
  removeIfEmpty(NETFILTER_LOCK_DIR);
  return report;
}

/** Parent dirs the lab and the plugin share with other labs go once nothing is left in them. */
function removeIfEmpty(dir: string): void {
  try {
    rmdirSync(dir);
  } catch {
    // in use by another lab or node, or already gone
  }
}

/**
 * The last word before the process exits on a signal: synchronous, so nothing the
 * interrupted run still had in flight can slip in after it.
 */
export function finalSweep(prefix: string): void {
  const namespaces = labNamespaces(prefix);
  const pids = [...agentProcesses(prefix), ...namespaces.flatMap(netnsPids)];
  for (const pid of pids) {
    try {
      if (pid !== process.pid) process.kill(pid, "SIGKILL");
    } catch {
      // gone
    }
  }
  for (const ns of namespaces) runSync(["ip", "netns", "del", ns]);
  rmSync(runDirOf(prefix), { recursive: true, force: true });
  removeIfEmpty(RUN_ROOT);
}
