// One verification of a real cluster: find the nodes, remove what an earlier run left,
// deploy the test pods, run the cluster's table of checks through the kubectl driver, and
// remove the namespace again whatever happened. The report is the lab's: CheckRow rows,
// the same table and verdict line.
import { DEFAULT_WIDTH, failureLines, renderSummary, type Style } from "../lab/report";
import type { CheckRow } from "../model/checks";
import { runTable } from "../model/runChecks";
import {
  type Deployment,
  deploy,
  NAMESPACE_DELETE_TIMEOUT_S,
  type NodeInfo,
  newRunId,
  podOf,
  readNodes,
  removeRuns,
} from "./cluster";
import { clusterDriver, DEFAULT_PARALLEL, INTERNET, MIN_TIMEOUT_S, topologyOf } from "./driver";
import { firstLine, type Kubectl, must } from "./kubectl";
import { NODE_HTTP_PORT, namespaceOf } from "./manifests";
import { kubectlProbes } from "./probes";
import { CLUSTER_TABLE } from "./table";

export const PHASE = "cluster";

export interface VerifyOptions {
  readonly kubectl: Kubectl;
  /** Each node's public IP (the stack knows them); a node not listed is asked for its own. */
  readonly publicIps?: ReadonlyMap<string, string>;
  /** kubectl exec calls at once. */
  readonly parallel?: number;
  /** Leave the namespace for inspection. */
  readonly keep?: boolean;
  readonly runId?: string;
  /** The pause before a failed probe's second try (tests shorten it). */
  readonly retryDelayMs?: number;
  /** Progress, one line at a time (stderr in the CLI). */
  readonly log: (line: string) => void;
}

export interface VerifyReport {
  ok: boolean;
  runId: string;
  namespace: string;
  nodes: string[];
  rows: CheckRow[];
  /** One line per failed row, the lab's: the row, from → to, what it expected and what it saw. */
  failures: string[];
  /** Why the checks could not run at all (a node not Ready, pods that never started). */
  error?: string;
  /** What happened to the namespace. */
  cleanup: string;
  ms: number;
}

/** Plain text, every column: what the `connectivity` output and --json keep. */
export const PLAIN: Style = { wide: true, color: false, width: DEFAULT_WIDTH };

/** One line per failed row, as the lab prints them: FAIL [phase] row: from → to: expected ...; seen ... */
export function failureTexts(rows: readonly CheckRow[]): string[] {
  return failureLines(rows, PLAIN)
    .slice(1)
    .map((l) => l.trim());
}

/** The verdict in one line: the lab's count. */
export function verdictLine(rows: readonly CheckRow[]): string {
  const failed = rows.filter((r) => !r.ok).length;
  return failed === 0 ? `All ${rows.length} checks passed.` : `${failed} of ${rows.length} checks failed.`;
}

/** The report as people read it: the lab's table and failures, then what the run could not do and the cleanup. */
export function renderReport(report: VerifyReport, style: Style = PLAIN): string {
  const lines = [
    `podnet verify: ${report.nodes.length} nodes (${report.nodes.join(", ")}), namespace ${report.namespace}`,
  ];
  if (report.rows.length > 0) lines.push(renderSummary(report.rows, undefined, style));
  if (report.error) lines.push("", `podnet verify could not run the checks: ${report.error}`);
  lines.push(`cleanup: ${report.cleanup}`);
  return lines.join("\n");
}

function notReady(nodes: readonly NodeInfo[]): string | undefined {
  const down = nodes.filter((n) => !n.ready).map((n) => n.name);
  if (nodes.length === 0) return "the cluster has no nodes";
  return down.length > 0 ? `not Ready: ${down.join(", ")} (kubectl describe node ${down[0]})` : undefined;
}

/** Each node's public IP: the stack's, else what checkip tells the node's host pod. */
async function publicIpsOf(
  kubectl: Kubectl,
  d: Deployment,
  given: ReadonlyMap<string, string>,
  log: (l: string) => void,
): Promise<Map<string, string>> {
  const ips = new Map(given);
  const probes = kubectlProbes(kubectl, d.namespace);
  for (const n of d.nodes.filter((x) => !ips.has(x.name))) {
    const r = await probes.publicIp(
      { name: podOf(d, "host", n.name).name, httpPort: NODE_HTTP_PORT },
      MIN_TIMEOUT_S * 2,
    );
    if (r.ok && r.addresses?.[0]) ips.set(n.name, r.addresses[0]);
    else
      log(
        `verify: ${n.name}'s own public IP is unknown (${r.error ?? "no answer"} from ${INTERNET.ip}); its internet row is skipped`,
      );
  }
  return ips;
}

/** Removes this run's namespace; never throws (cleanup must not hide the checks' result). */
export async function removeRun(kubectl: Kubectl, runId: string): Promise<string> {
  const namespace = namespaceOf(runId);
  try {
    await must(
      kubectl,
      [
        "delete",
        "namespace",
        namespace,
        "--ignore-not-found",
        "--wait=true",
        `--timeout=${NAMESPACE_DELETE_TIMEOUT_S}s`,
      ],
      { timeoutMs: (NAMESPACE_DELETE_TIMEOUT_S + 30) * 1000 },
    );
    return `namespace ${namespace} removed`;
  } catch (e) {
    return `namespace ${namespace} NOT removed (${firstLine((e as Error).message)}); remove it with kubectl delete namespace ${namespace}`;
  }
}

export async function verifyCluster(options: VerifyOptions): Promise<VerifyReport> {
  const started = Date.now();
  const { kubectl, log } = options;
  const runId = options.runId ?? newRunId();
  const report: VerifyReport = {
    ok: false,
    runId,
    namespace: namespaceOf(runId),
    nodes: [],
    rows: [],
    failures: [],
    cleanup: "nothing created",
    ms: 0,
  };
  let created = false;
  try {
    const nodes = await readNodes(kubectl);
    report.nodes = nodes.map((n) => n.name);
    const problem = notReady(nodes);
    if (problem) throw new Error(problem);
    const stale = await removeRuns(kubectl);
    if (stale.length > 0) log(`verify: removed ${stale.length} namespace(s) an earlier run left: ${stale.join(", ")}`);
    log(`verify: ${nodes.length} nodes Ready; deploying the test pods in ${report.namespace}`);
    created = true;
    const t0 = Date.now();
    const d = await deploy(kubectl, runId, nodes);
    log(`verify: ${d.pods.size} pods Ready in ${((Date.now() - t0) / 1000).toFixed(1)} s; running the checks`);
    const topology = topologyOf(d, await publicIpsOf(kubectl, d, options.publicIps ?? new Map(), log));
    report.rows = await runTable(
      CLUSTER_TABLE,
      clusterDriver(kubectlProbes(kubectl, d.namespace), {
        parallel: options.parallel ?? DEFAULT_PARALLEL,
        retryDelayMs: options.retryDelayMs,
      }),
      topology,
      { phase: PHASE, first: true },
    );
    report.failures = failureTexts(report.rows);
    report.ok = report.rows.length > 0 && report.failures.length === 0;
  } catch (e) {
    report.error = (e as Error).message;
  } finally {
    if (created)
      report.cleanup = options.keep ? `namespace ${report.namespace} kept (--keep)` : await removeRun(kubectl, runId);
  }
  report.ms = Date.now() - started;
  return report;
}
