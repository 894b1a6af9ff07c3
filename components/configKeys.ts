// The stack's keys as a whole: podnet: keys nothing reads (a typo such as
// podnet:workercount would otherwise be ignored in silence), and the region, which is the
// AWS provider's own setting (aws:region, then AWS_REGION / AWS_DEFAULT_REGION).
import { Region } from "@pulumi/aws/types/enums";

/** Every region this version of the AWS provider knows. */
export const AWS_REGIONS: readonly string[] = Object.values(Region);
export const DEFAULT_REGION = "us-east-1";

/** Edit distance (insertions, deletions, substitutions), case-insensitive. */
export function editDistance(a: string, b: string): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  let row = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const next = [i];
    for (let j = 1; j <= y.length; j++)
      next[j] = Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (x[i - 1] === y[j - 1] ? 0 : 1));
    row = next;
  }
  return row[y.length];
}

/** The candidate nearest to a word, if it is within a few edits (a typo, not a guess). */
export function didYouMean(word: string, candidates: readonly string[], maxDistance = 3): string | undefined {
  let best: string | undefined;
  let bestDistance = maxDistance + 1;
  for (const candidate of candidates) {
    const distance = editDistance(word, candidate);
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  return best;
}

export interface KeyProblem {
  readonly key: string;
  readonly message: string;
  readonly fix: string;
}

/**
 * One problem per podnet: key the stack sets that is not a setting. The fix moves the value
 * with a command substitution, so a secret value is never printed.
 */
export function unknownKeyProblems(
  namespace: string,
  setKeys: readonly string[],
  knownKeys: readonly string[],
): KeyProblem[] {
  return setKeys
    .filter((key) => !knownKeys.includes(key))
    .map((key) => {
      const near = didYouMean(key, knownKeys);
      const rm = `pulumi config rm ${namespace}:${key}`;
      if (!near) {
        return { key, message: `is not a ${namespace} setting (Pulumi.yaml lists them all)`, fix: rm };
      }
      return {
        key,
        message: `is not a ${namespace} setting; did you mean ${namespace}:${near}?`,
        fix: `pulumi config set ${namespace}:${near} "$(pulumi config get ${namespace}:${key})" && ${rm}`,
      };
    });
}

/** Where the region came from, most binding first. */
export interface RegionSources {
  /** aws:region from the stack config: what every Pulumi AWS program reads. */
  readonly awsRegion?: string;
  /** podnet:region, an alias of aws:region; when both are set they must agree. */
  readonly podnetRegion?: string;
  /** The environment the provider falls back to. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

export interface ResolvedRegion {
  readonly region: string;
  /** The setting it came from, as a user would name it. */
  readonly from: "aws:region" | "podnet:region" | "AWS_REGION" | "AWS_DEFAULT_REGION" | "default";
}

/** aws:region, else podnet:region, else the provider's environment, else us-east-1. */
export function resolveRegion(sources: RegionSources): ResolvedRegion {
  const set = (value: string | undefined) => (value !== undefined && value.trim() !== "" ? value.trim() : undefined);
  const awsRegion = set(sources.awsRegion);
  if (awsRegion) return { region: awsRegion, from: "aws:region" };
  const podnetRegion = set(sources.podnetRegion);
  if (podnetRegion) return { region: podnetRegion, from: "podnet:region" };
  for (const name of ["AWS_REGION", "AWS_DEFAULT_REGION"] as const) {
    const value = set(sources.env?.[name]);
    if (value) return { region: value, from: name };
  }
  return { region: DEFAULT_REGION, from: "default" };
}

/** Problems with the region: podnet:region disagreeing with aws:region, or no such region. */
export function regionProblems(sources: RegionSources): KeyProblem[] {
  const { region, from } = resolveRegion(sources);
  const problems: KeyProblem[] = [];
  const podnetRegion = sources.podnetRegion?.trim();
  if (from === "aws:region" && podnetRegion && podnetRegion !== region) {
    problems.push({
      key: "region",
      message: `is ${podnetRegion} but aws:region is ${region}: a stack has one region, and aws:region is the one the AWS tools read`,
      fix: `pulumi config rm podnet:region   or   pulumi config set aws:region ${podnetRegion}`,
    });
  }
  if (!AWS_REGIONS.includes(region)) {
    const suggestion = didYouMean(region, AWS_REGIONS) ?? DEFAULT_REGION;
    const key = from === "podnet:region" ? "region" : "aws:region";
    const where =
      from === "aws:region" || from === "podnet:region"
        ? ""
        : ` (from ${from === "default" ? "the default" : `the environment, ${from}`})`;
    problems.push({
      key,
      message: `"${region}"${where} is not an AWS region like us-east-1 (regions this @pulumi/aws knows: ${AWS_REGIONS.length}; a region AWS opened since needs a newer @pulumi/aws)`,
      fix: `pulumi config set ${key === "region" ? "podnet:region" : "aws:region"} ${suggestion}`,
    });
  }
  return problems;
}
