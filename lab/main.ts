// `npm run lab` — the cluster's network on one machine, in network namespaces.
//
//   npm run lab                          bring it up, run every check, print the table, tear down
//   npm run lab -- --workers 3 --keep    three workers, and leave it up to poke around
//   npm run lab -- down                  remove a lab left up with --keep
//
// Exit status: 0 every check passed, 1 a check failed or the lab could not be built,
// 2 bad usage, 128+signal when interrupted (130 for Ctrl-C), after cleaning up.
import { writeFileSync } from "node:fs";
import { constants } from "node:os";
import { Aborted, Lab, LabBusy, LabReport, preflight } from "./lab";
import { DEFAULT_PREFIX, LabOptions, MAX_WORKERS, MIN_WORKERS, optionProblems } from "./plan";
import { finalSweep, teardown } from "./state";

export const USAGE = `usage: npm run lab -- [up] [--workers N] [--keep] [--prefix NAME] [--iperf-seconds S] [--json FILE]
       npm run lab -- down [--prefix NAME]

  up (default)       build the lab, run the checks and the iperf3 figures, then remove it
  down               remove a lab left up with --keep (or by a crash)
  --workers N        worker nodes behind the control plane (${MIN_WORKERS}-${MAX_WORKERS}, default 2)
  --keep             leave the lab up after the checks and print commands to poke around
  --prefix NAME      namespace/run-dir prefix (default ${DEFAULT_PREFIX}): labs with different
                     prefixes run side by side
  --iperf-seconds S  length of each iperf3 run (default 2; 0 skips the throughput figures)
  --json FILE        also write the full report (checks, pods, timings, throughput) as JSON`;

export interface Cli {
  command: "up" | "down" | "help";
  options: LabOptions;
  json?: string;
}

export function parseArgs(argv: readonly string[]): Cli {
  let command: Cli["command"] = "up";
  let prefix = DEFAULT_PREFIX;
  let workers = 2;
  let keep = false;
  let iperfSeconds = 2;
  let json: string | undefined;
  const value = (i: number, flag: string): string => {
    const v = argv[i + 1];
    if (v === undefined || v.startsWith("--")) throw new Error(`${flag} needs a value`);
    return v;
  };
  const number = (text: string, flag: string): number => {
    if (!/^\d+(\.\d+)?$/.test(text)) throw new Error(`${flag} ${text}: not a number`);
    return Number(text);
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const [flag, inline] = arg.startsWith("--") && arg.includes("=") ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)] : [arg, undefined];
    const take = () => (inline !== undefined ? inline : value(i++, flag));
    switch (flag) {
      case "up":
      case "down":
        command = flag;
        break;
      case "help":
      case "--help":
      case "-h":
        command = "help";
        break;
      case "--keep":
        keep = true;
        break;
      case "--workers":
        workers = number(take(), flag);
        break;
      case "--prefix":
        prefix = take();
        break;
      case "--iperf-seconds":
        iperfSeconds = number(take(), flag);
        break;
      case "--json":
        json = take();
        break;
      default:
        throw new Error(`unknown argument ${arg}`);
    }
  }
  const options: LabOptions = { prefix, workers, keep, iperfSeconds };
  const problems = command === "up" ? optionProblems(options) : optionProblems({ ...options, workers: MIN_WORKERS, iperfSeconds: 0 });
  if (problems.length > 0) throw new Error(problems.join("\n"));
  return { command, options, json };
}

async function down(prefix: string): Promise<number> {
  const report = await teardown(prefix);
  if (report.namespaces.length === 0 && !report.runDir && report.processes === 0) {
    console.log(`lab down: nothing to remove for prefix ${prefix}`);
  } else {
    console.log(
      `lab down: removed ${report.namespaces.length} namespaces (${report.namespaces.join(", ") || "none"}), stopped ${report.processes} processes` +
        `${report.runDir ? `, removed /run/podnet-lab/${prefix}` : ""}`,
    );
  }
  for (const p of report.problems) console.error(`lab down: ${p}`);
  return report.problems.length === 0 ? 0 : 1;
}

export async function main(argv: readonly string[]): Promise<number> {
  let cli: Cli;
  try {
    cli = parseArgs(argv);
  } catch (e) {
    console.error(`lab: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (cli.command === "help") {
    console.log(USAGE);
    return 0;
  }
  if (cli.command === "down") return down(cli.options.prefix);

  const problems = preflight(cli.options);
  if (problems.length > 0) {
    console.error(`lab: cannot start:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    return 1;
  }
  const started = Date.now();
  const lab = new Lab(cli.options, { line: (t) => console.log(t) });
  const prefix = cli.options.prefix;
  let cleaning: Promise<void> | undefined;
  const cleanup = async (why: string): Promise<void> => {
    cleaning ??= (async () => {
      const t0 = Date.now();
      console.log(`[cleanup] ${why}: removing the lab (prefix ${prefix})`);
      const report = await teardown(prefix);
      lab.report.timings.teardownMs = Date.now() - t0;
      console.log(
        `[cleanup] removed ${report.namespaces.length} namespaces, stopped ${report.processes} processes, run dir ${report.runDir ? "removed" : "absent"} (${Date.now() - t0} ms)`,
      );
      for (const p of report.problems) console.error(`[cleanup] ${p}`);
    })();
    return cleaning;
  };
  let interrupted: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) {
      if (signal !== "SIGPIPE") console.error(`[cleanup] ${signal} again: still cleaning up, please wait`);
      return;
    }
    interrupted = signal;
    lab.abort(signal);
    void cleanup(`${signal}`).then(() => {
      finalSweep(prefix);
      process.exit(signalExit(signal));
    });
  };
  // A closed stdout (`npm run lab | head`) ends the run like Ctrl-C: clean up, quietly.
  process.stdout.on("error", () => onSignal("SIGPIPE"));
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  process.on("SIGHUP", onSignal);

  let code = 1;
  let kept = false;
  try {
    await lab.up();
    await lab.runChecks();
    await lab.throughput();
    console.log(lab.summary());
    lab.report.ok = lab.rows.length > 0 && lab.rows.every((r) => r.ok);
    code = lab.report.ok ? 0 : 1;
    if (cli.options.keep) {
      kept = true;
      console.log(`\n${lab.pokeHelp()}`);
    }
  } catch (e) {
    if (e instanceof Aborted || interrupted) {
      await cleaning;
      return signalExit(interrupted ?? "SIGINT");
    }
    lab.report.error = (e as Error).message;
    console.error(`lab: ${(e as Error).message}`);
    if (e instanceof LabBusy) return 1;
    if (lab.rows.length > 0) console.log(lab.summary());
    if (cli.options.keep) {
      kept = true;
      console.error(`lab: left up for inspection (--keep); remove it with npm run lab -- down${prefix === DEFAULT_PREFIX ? "" : ` --prefix ${prefix}`}`);
    }
  }
  if (!kept) await cleanup(code === 0 ? "done" : "finished with failures");
  if (interrupted) {
    await cleaning;
    return signalExit(interrupted);
  }
  lab.report.timings.totalMs = Date.now() - started;
  console.log(`lab: ${lab.report.ok ? "PASS" : "FAIL"} in ${(lab.report.timings.totalMs / 1000).toFixed(1)} s${kept ? " (kept up)" : ""}`);
  if (cli.json) writeReport(cli.json, lab.report);
  return code;
}

/** The shell's convention: 128 + the signal's number (130 for Ctrl-C). */
function signalExit(signal: NodeJS.Signals): number {
  return 128 + (constants.signals[signal] ?? 2);
}

function writeReport(file: string, report: LabReport): void {
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      console.error(`lab: ${(e as Error).stack ?? String(e)}`);
      process.exit(1);
    },
  );
}
