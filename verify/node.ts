// The verification as it runs on a machine with kubectl: bundled (verify/remote.ts) and run
// by plain node on the control plane with the admin kubeconfig, by the stack and by
// `npm run verify -- --ssh`; `npm run verify` runs the same function on the user's machine.
//
//   node podnet-verify.js --kubeconfig /etc/kubernetes/admin.conf [--public-ip NODE=IP]...
//                         [--mode fail|report] [--parallel N] [--keep] [--wide]
//
// stderr: progress, then the table and every failure with what it saw. stdout: the report
// as one JSON line (the stack's `connectivity` output), except when --mode fail fails.
// Exit 0 when every check passed (or --mode report), 1 otherwise, 2 for bad usage.
import { parseIPv4 } from "../cni/ipv4";
import { renderSummary, styleFor } from "../lab/report";
import { newRunId } from "./cluster";
import { type Kubectl, processKubectl } from "./kubectl";
import { PLAIN, removeRun, renderReport, type VerifyReport, verdictLine, verifyCluster } from "./run";

export const MODES = ["fail", "report"] as const;
export type FailMode = (typeof MODES)[number];

export interface NodeCli {
  readonly kubeconfig?: string;
  readonly publicIps: Map<string, string>;
  readonly mode: FailMode;
  readonly parallel?: number;
  readonly keep: boolean;
  /** Every column of the table at full length (the lab's --wide). */
  readonly wide: boolean;
}

/** What the stack keeps as its `connectivity` output: small, readable in `pulumi stack output`. */
export interface Connectivity {
  readonly ok: boolean;
  /** The verdict line, or why the checks could not run. */
  readonly summary: string;
  /** The lab's table, one line per element. */
  readonly table: readonly string[];
  readonly failures: readonly string[];
  readonly rows: VerifyReport["rows"];
  readonly cleanup: string;
}

export function connectivityOf(report: VerifyReport): Connectivity {
  return {
    ok: report.ok,
    summary: report.error ? `could not run the checks: ${report.error}` : verdictLine(report.rows),
    table: report.rows.length > 0 ? renderSummary(report.rows, undefined, PLAIN).trim().split("\n") : [],
    failures: report.error ? [report.error, ...report.failures] : report.failures,
    rows: report.rows,
    cleanup: report.cleanup,
  };
}

/** Flags shared by the node entry and `npm run verify`; returns the index after a consumed flag, or undefined. */
export interface CommonFlags {
  publicIps: Map<string, string>;
  mode: FailMode;
  parallel?: number;
  keep: boolean;
  wide: boolean;
}

export function takeCommonFlag(argv: readonly string[], i: number, into: CommonFlags): number | undefined {
  const arg = argv[i];
  const eq = arg.indexOf("=");
  const [flag, inline] = arg.startsWith("--") && eq > 0 ? [arg.slice(0, eq), arg.slice(eq + 1)] : [arg, undefined];
  const value = (): [string, number] => {
    if (inline !== undefined) return [inline, i + 1];
    const v = argv[i + 1];
    if (v === undefined || v.startsWith("--")) throw new Error(`${flag} needs a value`);
    return [v, i + 2];
  };
  switch (flag) {
    case "--public-ip": {
      const [v, next] = value();
      const [node, ip] = v.split("=");
      if (!node || !ip || parseIPv4(ip) === undefined)
        throw new Error(`--public-ip ${v}: use NODE=IPv4, e.g. worker-1=203.0.113.7`);
      into.publicIps.set(node, ip);
      return next;
    }
    case "--mode": {
      const [v, next] = value();
      if (!(MODES as readonly string[]).includes(v))
        throw new Error(`--mode ${v}: use fail (a failed check fails) or report (print it, exit 0)`);
      into.mode = v as FailMode;
      return next;
    }
    case "--parallel": {
      const [v, next] = value();
      if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > 32) throw new Error(`--parallel ${v}: use 1 to 32`);
      into.parallel = Number(v);
      return next;
    }
    case "--keep":
      into.keep = true;
      return i + 1;
    case "--wide":
      into.wide = true;
      return i + 1;
    default:
      return undefined;
  }
}

export function parseNodeArgs(argv: readonly string[]): NodeCli {
  const cli = {
    kubeconfig: undefined as string | undefined,
    publicIps: new Map<string, string>(),
    mode: "fail" as FailMode,
    parallel: undefined as number | undefined,
    keep: false,
    wide: false,
  };
  for (let i = 0; i < argv.length; ) {
    const next = takeCommonFlag(argv, i, cli);
    if (next !== undefined) {
      i = next;
    } else if (argv[i] === "--kubeconfig" && argv[i + 1]) {
      cli.kubeconfig = argv[i + 1];
      i += 2;
    } else {
      throw new Error(`unknown argument ${argv[i]}`);
    }
  }
  return cli;
}

/**
 * Removes the run's namespace on SIGINT, SIGTERM, SIGHUP or a closed stdout/stderr (an SSH
 * session that went away), then exits 128+signal (1 for a closed stream). Returns the
 * function that uninstalls the handlers.
 */
export function cleanupOnInterrupt(
  kubectl: Kubectl,
  runId: string,
  log: (line: string) => void,
  before: () => void = () => undefined,
): () => void {
  let stopping = false;
  const stop = (why: string, code: number) => {
    if (stopping) return;
    stopping = true;
    void removeRun(kubectl, runId).then((what) => {
      log(`verify: ${why}: ${what}`);
      before();
      process.exit(code);
    });
  };
  const handlers = (
    [
      ["SIGINT", 130],
      ["SIGTERM", 143],
      ["SIGHUP", 129],
    ] as const
  ).map(([signal, code]) => [signal, () => stop(signal, code)] as const);
  const closed = () => stop("output closed", 1);
  for (const [signal, handler] of handlers) process.on(signal, handler);
  process.stdout.on("error", closed);
  process.stderr.on("error", closed);
  return () => {
    for (const [signal, handler] of handlers) process.off(signal, handler);
    process.stdout.off("error", closed);
    process.stderr.off("error", closed);
  };
}

/** Runs the checks and prints as described above. */
export async function runOnNode(
  cli: NodeCli,
  kubectl: Kubectl = processKubectl({ kubeconfig: cli.kubeconfig }),
): Promise<number> {
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const runId = newRunId();
  const uninstall = cleanupOnInterrupt(kubectl, runId, log);
  const report = await verifyCluster({
    kubectl,
    publicIps: cli.publicIps,
    parallel: cli.parallel,
    keep: cli.keep,
    runId,
    log,
  });
  uninstall();
  log(renderReport(report, styleFor(process.stderr, cli.wide)));
  if (!report.ok && cli.mode === "fail") return 1;
  process.stdout.write(`${JSON.stringify(connectivityOf(report))}\n`);
  return 0;
}

if (require.main === module) {
  let cli: NodeCli;
  try {
    cli = parseNodeArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`podnet verify: ${(e as Error).message}\n`);
    process.exit(2);
  }
  runOnNode(cli).then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`podnet verify: ${(e as Error).stack ?? String(e)}\n`);
      process.exit(1);
    },
  );
}
