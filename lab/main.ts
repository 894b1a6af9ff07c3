// `npm run lab` — the cluster's network on one machine, in network namespaces.
//
//   npm run lab                          bring it up, run every check, print the table, tear down
//   npm run lab -- --workers 3 --keep    three workers, and leave it up to poke around
//   npm run lab -- down                  remove a lab left up with --keep
//   npm run lab -- --help
//
// Everything the user typed is checked first; only `up` then installs what the lab needs
// (scripts/setup.sh lab) and builds the plugin. A failed run keeps its evidence in a
// directory it names (lab/evidence.ts) and still removes every namespace.
//
// Exit status: 0 every check passed, 1 a check failed or the lab could not be built,
// 2 bad usage, 128+signal when interrupted (130 for Ctrl-C), after cleaning up.
import { spawnSync } from "node:child_process";
import { chownSync, existsSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { constants } from "node:os";
import { dirname, join } from "node:path";
import { type Cli, npmSwallowed, parseArgs, USAGE, UsageError } from "./args";
import { evidenceDirFor } from "./evidence";
import { downCommand } from "./help";
import { Aborted, Lab, LabBusy, type LabReport } from "./lab";
import { preflight } from "./preflight";
import { failureLines, fit, fittedLines, renderSummary, type Style, styleFor } from "./report";
import { finalSweep, teardown } from "./state";

export { parseArgs, USAGE } from "./args";

const ROOT = join(__dirname, "..");

async function down(prefix: string): Promise<number> {
  const report = await teardown(prefix);
  if (report.namespaces.length === 0 && !report.runDir && report.processes === 0) {
    console.log(`lab down: nothing to remove for prefix ${prefix}`);
  } else {
    console.log(
      `lab down: removed ${report.namespaces.length} namespaces, stopped ${report.processes} processes` +
        `${report.runDir ? `, removed /run/podnet-lab/${prefix}` : ""}`,
    );
  }
  for (const p of report.problems) console.error(`lab down: ${p}`);
  return report.problems.length === 0 ? 0 : 1;
}

/** What `up` needs before it can start: the lab's packages and a fresh dist/podnet. */
function prepare(): string | undefined {
  const setup = spawnSync("bash", [join(ROOT, "scripts", "setup.sh"), "lab"], { cwd: ROOT, stdio: "inherit" });
  if (setup.status !== 0) return "scripts/setup.sh lab failed (see above)";
  const build = spawnSync("npm", ["run", "--silent", "build"], { cwd: ROOT, encoding: "utf8" });
  if (build.status !== 0) return `npm run build failed:\n${build.stdout}${build.stderr}`;
  return undefined;
}

/** Parses and checks everything the user typed; a message and exit status 2 on a problem. */
function readCli(argv: readonly string[], env: NodeJS.ProcessEnv): Cli | number {
  const swallowed = npmSwallowed(env, argv);
  if (swallowed) {
    console.error(swallowed);
    return 2;
  }
  try {
    return parseArgs(argv, env.INIT_CWD ?? process.cwd());
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`lab: ${e.message}`);
    return 2;
  }
}

export async function main(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const cli = readCli(argv, env);
  if (typeof cli === "number") return cli;
  if (cli.command === "help") {
    console.log(USAGE);
    return 0;
  }
  if (process.getuid?.() !== 0) {
    console.error(
      `lab: ${cli.command === "down" ? "lab down removes" : "the lab creates"} network namespaces: run it as root (in a root shell, or sudo npm run lab)`,
    );
    return 1;
  }
  if (cli.command === "down") return down(cli.options.prefix);
  const unprepared = prepare();
  if (unprepared) {
    console.error(`lab: ${unprepared}`);
    return 1;
  }
  const problems = preflight(cli.options);
  if (problems.length > 0) {
    console.error(`lab: cannot start:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    return 1;
  }
  return up(cli);
}

/** Tears the lab down once, however often it is asked: the run's end and a signal may both ask. */
class Cleanup {
  private cleaning: Promise<string | undefined> | undefined;
  /** The signal that ended the run, if one did. */
  interrupted: NodeJS.Signals | undefined;

  constructor(
    private readonly lab: Lab,
    private readonly say: (line: string) => void,
  ) {}

  /** Removes the lab (keeping its evidence in evidenceDir, if given); resolves to where the evidence is. */
  run(why: string, evidenceDir?: string): Promise<string | undefined> {
    const prefix = this.lab.plan.options.prefix;
    this.cleaning ??= (async () => {
      const t0 = Date.now();
      this.say(`[cleanup] ${why}: removing the lab (prefix ${prefix})`);
      const report = await teardown(prefix, { keepEvidenceIn: evidenceDir });
      this.lab.report.timings.teardownMs = Date.now() - t0;
      this.say(
        `[cleanup] removed ${report.namespaces.length} namespaces, stopped ${report.processes} processes, run dir ${report.runDir ? "removed" : "absent"} (${Date.now() - t0} ms)`,
      );
      for (const p of report.problems) console.error(`[cleanup] ${p}`);
      return report.evidenceDir;
    })();
    return this.cleaning;
  }

  /** Waits for a teardown a signal started. */
  async settled(): Promise<void> {
    await this.cleaning;
  }

  /** Ctrl-C, TERM, HUP and a closed stdout stop the lab, clean up and exit 128+signal. */
  onSignals(): void {
    const onSignal = (signal: NodeJS.Signals) => {
      if (this.interrupted) {
        if (signal !== "SIGPIPE") console.error(`[cleanup] ${signal} again: still cleaning up, please wait`);
        return;
      }
      this.interrupted = signal;
      this.lab.abort(signal);
      void this.run(`${signal}`).then(() => {
        finalSweep(this.lab.plan.options.prefix);
        process.exit(signalExit(signal));
      });
    };
    // A closed stdout (`npm run lab | head`) ends the run like Ctrl-C: clean up, quietly.
    process.stdout.on("error", () => onSignal("SIGPIPE"));
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    process.on("SIGHUP", onSignal);
  }
}

/** How the run ended: a signal stopped it, another live lab holds the prefix, or it ran (and is kept or not). */
type Ran =
  | { readonly end: "interrupted" }
  | { readonly end: "busy" }
  | { readonly end: "ran"; readonly code: number; readonly kept: boolean };

/** The run itself: up, checks, throughput, the summary. */
async function runLab(lab: Lab, cli: Cli, style: Style, cleanup: Cleanup): Promise<Ran> {
  try {
    await lab.up();
    await lab.runChecks();
    await lab.throughput();
    console.log(renderSummary(lab.rows, lab.report.throughput, style));
    lab.report.ok = lab.rows.length > 0 && lab.rows.every((r) => r.ok);
    if (cli.options.keep) console.log(`\n${lab.pokeHelp()}`);
    return { end: "ran", code: lab.report.ok ? 0 : 1, kept: cli.options.keep };
  } catch (e) {
    if (e instanceof Aborted || cleanup.interrupted) return { end: "interrupted" };
    lab.report.error = (e as Error).message;
    for (const l of fit(`lab: ${(e as Error).message}`, style.wide ? Infinity : style.width)) console.error(l);
    if (e instanceof LabBusy) return { end: "busy" };
    if (lab.rows.length > 0) console.log(renderSummary(lab.rows, lab.report.throughput, style));
    if (cli.options.keep)
      console.error(`lab: left up for inspection (--keep); remove it with ${downCommand(cli.options.prefix)}`);
    return { end: "ran", code: 1, kept: cli.options.keep };
  }
}

async function up(cli: Cli): Promise<number> {
  const style = styleFor(process.stdout, cli.wide);
  const say = fittedLines((l) => console.log(l), style);
  const started = Date.now();
  const lab = new Lab(cli.options, { line: say });
  const prefix = cli.options.prefix;
  const cleanup = new Cleanup(lab, say);
  cleanup.onSignals();
  const ran = await runLab(lab, cli, style, cleanup);
  if (ran.end === "interrupted") {
    await cleanup.settled();
    return signalExit(cleanup.interrupted ?? "SIGINT");
  }
  // Another live lab's prefix: nothing of ours to remove or report.
  if (ran.end === "busy") return 1;
  let { code } = ran;
  let evidence: string | undefined;
  if (!ran.kept) {
    const keepIn = code === 0 ? undefined : keepEvidence(prefix, lab.report);
    evidence = await cleanup.run(code === 0 ? "done" : "finished with failures", keepIn);
  }
  if (cleanup.interrupted) {
    await cleanup.settled();
    return signalExit(cleanup.interrupted);
  }
  lab.report.timings.totalMs = Date.now() - started;
  if (cli.json && !writeReport(cli.json, { ...lab.report, ...(evidence ? { evidenceDir: evidence } : {}) })) code = 1;
  for (const line of finalWords(lab.report, evidence, ran.kept, style)) say(line);
  return code;
}

/** The run's own account of a failure, first into the evidence directory; the teardown adds the rest. */
function keepEvidence(prefix: string, report: LabReport): string | undefined {
  const dir = evidenceDirFor(prefix);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    const plain: Style = { wide: true, color: false, width: Infinity };
    const failed = failureLines(report.checks, plain);
    const lines = [...(report.error ? [`lab error: ${report.error}`] : []), ...failed];
    writeFileSync(join(dir, "failed-rows.txt"), `${lines.join("\n")}\n`);
    writeFileSync(join(dir, "report.json"), `${JSON.stringify(report, null, 2)}\n`);
    return dir;
  } catch (e) {
    console.error(`lab: could not keep the evidence in ${dir}: ${(e as Error).message}`);
    return undefined;
  }
}

function finalWords(report: LabReport, evidence: string | undefined, kept: boolean, style: Style): string[] {
  const verdict = report.ok ? "PASS" : "FAIL";
  const lines = [
    `lab: ${style.color ? `\x1b[${report.ok ? "32" : "1;31"}m${verdict}\x1b[0m` : verdict} in ${((report.timings.totalMs ?? 0) / 1000).toFixed(1)} s${kept ? " (kept up)" : ""}`,
  ];
  if (evidence) {
    lines.push(
      `lab: the evidence is kept in ${evidence}: failed-rows.txt, report.json, and per node nodes/<node>/podnet.log ` +
        "(the plugin's log), cni-calls.log (every CNI call), network.txt (addresses, routes, iptables-save)",
    );
  }
  return lines;
}

/** The shell's convention: 128 + the signal's number (130 for Ctrl-C). */
function signalExit(signal: NodeJS.Signals): number {
  return 128 + (constants.signals[signal] ?? 2);
}

/** Writes --json; a new file in a user's directory (sudo npm run lab) is given to that user. */
function writeReport(file: string, report: LabReport & { evidenceDir?: string }): boolean {
  try {
    const isNew = !existsSync(file);
    writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
    const dir = statSync(dirname(file));
    if (isNew && process.getuid?.() === 0 && dir.uid !== 0) chownSync(file, dir.uid, dir.gid);
    console.log(`lab: report written to ${file}`);
    return true;
  } catch (e) {
    console.error(`lab: cannot write the report to ${file}: ${(e as Error).message}`);
    return false;
  }
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
