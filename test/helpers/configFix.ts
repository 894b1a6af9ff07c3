// Applies the `fix:` a config problem suggests, the way `pulumi config` would, so that a
// test can check that every suggested fix passes validation itself.
import { type ClusterConfig, type ConfigError, type ConfigKey, parseConfig } from "../../components/config";

/** A stack's config as `pulumi config --json` keys it: "podnet:workerCount", "aws:region". */
export type StackValues = Readonly<Record<string, string>>;

/** The alternatives of a fix ("A   or   B", "A   or, after the quota increase,   B"). */
export function alternatives(fix: string): string[] {
  return fix.split(/ {3}or(?:,[^,]*,)? {3}/).map((a) => a.replace(/ {3}\(.*\)$/, "").trim());
}

/** Splits a command into words: single quotes, double quotes, and $(pulumi config get K). */
function words(command: string, values: StackValues): string[] {
  const out: string[] = [];
  const re = /'([^']*)'|"\$\(pulumi config get ([^)\s]+)\)"|"([^"]*)"|(\S+)/g;
  for (let m = re.exec(command); m; m = re.exec(command)) {
    if (m[2] !== undefined) {
      const value = values[m[2]];
      if (value === undefined) throw new Error(`fix reads ${m[2]}, which is not set`);
      out.push(value);
    } else {
      out.push(m[1] ?? m[3] ?? m[4]);
    }
  }
  return out;
}

function setPath(values: Record<string, string>, path: string, value: string): void {
  const match = /^([\w-]+:\w+)\[(\d+)\]$/.exec(path);
  if (!match) throw new Error(`cannot apply --path ${path}`);
  const [, key, index] = match;
  const list: string[] = values[key] ? JSON.parse(values[key]) : [];
  list[Number(index)] = value;
  values[key] = JSON.stringify(list);
}

/** The stack's config after one alternative of a fix (commands joined by &&). */
export function applyFix(values: StackValues, alternative: string): Record<string, string> {
  const next: Record<string, string> = { ...values };
  for (const command of alternative.split(" && ")) {
    const w = words(command.trim(), next);
    if (w[0] !== "pulumi" || w[1] !== "config") throw new Error(`not a pulumi config command: ${command}`);
    if (w[2] === "rm" && w.length === 4) delete next[w[3]];
    else if (w[2] === "set" && w[3] === "--path" && w.length === 6) setPath(next, w[4], w[5]);
    else if (w[2] === "set" && w.length === 5) next[w[3]] = w[4];
    else throw new Error(`cannot apply: ${command}`);
  }
  return next;
}

/** Validates a stack's config as readConfig would, with a fixed environment. */
export function validate(values: StackValues, env: Record<string, string> = {}): ClusterConfig {
  const setKeys = Object.keys(values)
    .filter((k) => k.startsWith("podnet:"))
    .map((k) => k.slice("podnet:".length));
  return parseConfig((key: ConfigKey) => values[`podnet:${key}`], { setKeys, awsRegion: values["aws:region"], env });
}

/** The ConfigError of a config, or undefined when it validates. */
export function problemsOf(values: StackValues, env: Record<string, string> = {}): ConfigError | undefined {
  try {
    validate(values, env);
    return undefined;
  } catch (err) {
    if ((err as Error).name !== "ConfigError") throw err;
    return err as ConfigError;
  }
}
