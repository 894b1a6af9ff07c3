// The lab's command line: one table of commands and flags, from which the usage text, the
// parser, the did-you-mean and the check for flags npm kept for itself are all derived.
// Everything here is checked before the lab builds anything.
import { accessSync, constants, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { DEFAULT_PREFIX, type LabOptions, MAX_WORKERS, MIN_WORKERS, optionProblems } from "./labPlan";

export type Command = "up" | "down" | "help";

interface Flag {
  /** The value's name in the usage text; absent for a switch. */
  readonly value?: string;
  readonly help: string;
}

export const COMMANDS: Readonly<Record<Exclude<Command, "help">, string>> = {
  up: "build the lab, run the checks and the iperf3 figures, then remove it (the default)",
  down: "remove a lab left up with --keep (or by a crash)",
};

export const FLAGS: Readonly<Record<string, Flag>> = {
  "--workers": { value: "N", help: `worker nodes behind the control plane (${MIN_WORKERS}-${MAX_WORKERS}, default 2)` },
  "--keep": { help: "leave the lab up after the checks and print commands to poke around" },
  "--prefix": {
    value: "NAME",
    help: `namespace/run-dir prefix (default ${DEFAULT_PREFIX}); labs with different prefixes run side by side`,
  },
  "--iperf-seconds": { value: "S", help: "length of each iperf3 run (default 2; 0 skips the throughput figures)" },
  "--json": { value: "FILE", help: "also write the full report (checks, pods, timings, throughput) as JSON" },
  "--wide": { help: "print every column of the table (expected, seen) instead of fitting 120 columns" },
  "--help": { help: "print this help" },
};

const flagUsage = (name: string) => (FLAGS[name].value ? `${name} ${FLAGS[name].value}` : name);

export const USAGE = [
  `usage: npm run lab -- [up] ${Object.keys(FLAGS)
    .filter((f) => f !== "--help")
    .map((f) => `[${flagUsage(f)}]`)
    .join(" ")}`,
  "       npm run lab -- down [--prefix NAME]",
  "       npm run lab -- --help",
  "",
  ...Object.entries(COMMANDS).map(([c, help]) => `  ${c.padEnd(18)} ${help}`),
  ...Object.keys(FLAGS).map((f) => `  ${flagUsage(f).padEnd(18)} ${FLAGS[f].help}`),
  "",
  'npm passes options to the lab only after "--": npm run lab -- --keep, not npm run lab --keep.',
].join("\n");

export interface Cli {
  command: Command;
  options: LabOptions;
  /** --json FILE, resolved against the directory npm was started in. */
  json?: string;
  wide: boolean;
}

/** Usage errors: exit status 2, one message naming the argument and the fix. */
export class UsageError extends Error {}

/** Edit distance counting a swap of neighbours as one edit ("dwon" is 1 from "down"), for did-you-mean. */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/** The known command or flag an unknown word was probably meant to be. */
export function didYouMean(word: string): string | undefined {
  const bare = word.replace(/^-+/, "").replace(/=.*$/, "").toLowerCase();
  const candidates = [...Object.keys(COMMANDS), ...Object.keys(FLAGS)];
  let best: { name: string; d: number } | undefined;
  for (const name of candidates) {
    const d = distance(bare, name.replace(/^--/, ""));
    if (d <= Math.max(1, Math.floor(bare.length / 3)) && (!best || d < best.d)) best = { name, d };
  }
  return best?.name;
}

function unknown(arg: string): UsageError {
  const guess = didYouMean(arg);
  return new UsageError(
    `unknown argument ${arg}${guess ? `: did you mean ${guess}?` : ""} (npm run lab -- --help lists the options)`,
  );
}

/** Parses the arguments after `--`. `cwd` is where relative paths start (npm's INIT_CWD). */
export function parseArgs(argv: readonly string[], cwd = process.cwd()): Cli {
  let command: Command = "up";
  const given: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "help" || arg === "-h") {
      command = "help";
      continue;
    }
    if (arg in COMMANDS) {
      command = arg as Command;
      continue;
    }
    const eq = arg.startsWith("--") ? arg.indexOf("=") : -1;
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    const flag = FLAGS[name];
    if (!flag) throw unknown(arg);
    if (name === "--help") {
      command = "help";
      continue;
    }
    if (!flag.value) {
      if (eq > 0) throw new UsageError(`${name} takes no value`);
      given[name] = "true";
      continue;
    }
    const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined || (eq < 0 && value.startsWith("--")))
      throw new UsageError(`${name} needs a value: ${flagUsage(name)}`);
    given[name] = value;
  }
  const number = (flag: string, fallback: number): number => {
    const text = given[flag];
    if (text === undefined) return fallback;
    if (!/^\d+(\.\d+)?$/.test(text)) throw new UsageError(`${flag} ${text}: not a number`);
    return Number(text);
  };
  const options: LabOptions = {
    prefix: given["--prefix"] ?? DEFAULT_PREFIX,
    workers: number("--workers", 2),
    keep: given["--keep"] === "true",
    iperfSeconds: number("--iperf-seconds", 2),
  };
  const problems =
    command === "up" ? optionProblems(options) : optionProblems({ ...options, workers: MIN_WORKERS, iperfSeconds: 0 });
  if (problems.length > 0) throw new UsageError(problems.join("\n"));
  const json = given["--json"] !== undefined ? resolve(cwd, given["--json"]) : undefined;
  if (json !== undefined && command === "up") {
    const problem = outputFileProblem(json);
    if (problem) throw new UsageError(`--json ${given["--json"]}: ${problem}`);
  }
  return { command, options, json, wide: given["--wide"] === "true" };
}

/** Why a report could not be written to `file`, checked before the lab builds anything. */
export function outputFileProblem(file: string): string | undefined {
  const dir = dirname(file);
  const kind = (path: string) => {
    try {
      return statSync(path).isDirectory() ? "dir" : "file";
    } catch {
      return undefined;
    }
  };
  if (kind(file) === "dir") return `${file} is a directory: name a file in it`;
  if (kind(dir) === undefined) return `directory ${dir} does not exist: create it first (mkdir -p ${dir})`;
  if (kind(dir) !== "dir") return `${dir} is not a directory`;
  try {
    accessSync(kind(file) ? file : dir, constants.W_OK);
  } catch {
    return `${kind(file) ? file : dir} is not writable`;
  }
  return undefined;
}

/** npm's own settings, always in a script's environment as npm_config_*: never the lab's flags. */
const NPM_OWN = new Set([
  "cache",
  "prefix",
  "global-prefix",
  "globalconfig",
  "init-module",
  "local-prefix",
  "node-gyp",
  "noproxy",
  "npm-version",
  "user-agent",
  "userconfig",
  "nodedir",
]);

/**
 * `npm run lab --keep` hands --keep to npm, which passes it to the script only as
 * npm_config_keep=true (and the value of `--workers 3` as a loose "3"). Returns the message
 * that says so, with the command that was meant, or undefined when nothing was swallowed.
 */
export function npmSwallowed(env: NodeJS.ProcessEnv, argv: readonly string[]): string | undefined {
  if (env.npm_lifecycle_event === undefined) return undefined;
  const swallowed: Array<{ typed: string; flag: string }> = [];
  for (const key of Object.keys(env)) {
    const m = /^npm_config_(.+)$/i.exec(key);
    if (!m) continue;
    const typed = `--${m[1].toLowerCase().replace(/_/g, "-")}`;
    if (NPM_OWN.has(typed.slice(2)) || typed === "--help") continue;
    const flag = FLAGS[typed] ? typed : didYouMean(typed);
    if (flag?.startsWith("--")) swallowed.push({ typed, flag });
  }
  if (swallowed.length === 0) return undefined;
  const loose = argv.filter((a) => !(a in COMMANDS) && !a.startsWith("-"));
  const commands = argv.filter((a) => a in COMMANDS);
  // `--workers=3` keeps its value in the variable; `--workers 3` leaves "3" loose in argv,
  // which can be given back only when one flag is missing one value.
  const inline = (typed: string) => {
    const v = env[`npm_config_${typed.slice(2).replace(/-/g, "_")}`];
    return v && v !== "true" ? v : undefined;
  };
  const needing = swallowed.filter((s) => FLAGS[s.flag].value && inline(s.typed) === undefined);
  const parts = swallowed.map(({ typed, flag }) => {
    if (!FLAGS[flag].value) return flag;
    return `${flag} ${inline(typed) ?? (needing.length === 1 && loose.length === 1 ? loose[0] : FLAGS[flag].value)}`;
  });
  const typos = swallowed.filter((s) => s.typed !== s.flag).map((s) => `${s.typed} (did you mean ${s.flag}?)`);
  const rest = argv.filter((a) => a.startsWith("-"));
  return [
    `lab: npm took ${swallowed.map((s) => s.typed).join(" ")} for itself: npm passes options to the lab only after "--".`,
    ...(typos.length ? [`  unknown: ${typos.join(", ")}`] : []),
    `  run: npm run lab -- ${[...commands, ...parts, ...rest].join(" ")}`,
    "  (npm run lab -- --help lists the options)",
  ].join("\n");
}
