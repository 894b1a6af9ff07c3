// The node-level rules, kept in podnet's own chains:
//   filter PODNET-FORWARD      accept forwarding to and from the cluster CIDR
//   nat    PODNET-POSTROUTING  pod traffic to the cluster keeps its source IP; pod traffic
//                              leaving the cluster is masqueraded as the node
// plus one jump to each from FORWARD/POSTROUTING, and net.ipv4.ip_forward=1.
//
// An ADD that checks the node (cni/nodestate.ts: at most once per window) reads the rules
// with one iptables-save and changes nothing when they are right. Rules flushed by hand
// come back on the first ADD after the window, or on the next ADD once a CHECK has seen
// them missing. Repairs run under flock(1) so ADDs racing at boot never duplicate a jump.

import { CniError, ErrorCode } from "./errors";
import { run } from "./exec";
import { mkdirSync, readFileSync, statSync, writeFileSync } from "./fs";
import { type Cidr, formatCidr } from "./ipv4";

export const FORWARD_CHAIN = "PODNET-FORWARD";
export const POSTROUTING_CHAIN = "PODNET-POSTROUTING";
const JUMP_COMMENT = "podnet";
const IP_FORWARD = "/proc/sys/net/ipv4/ip_forward";
export const NETFILTER_LOCK_DIR = "/run/podnet";

export interface RuleSpec {
  subnet: Cidr;
  clusterCidr: Cidr;
  ipMasq: boolean;
}

/** The exact lines iptables-save prints for podnet's chains when they are right. */
export function desiredRules(spec: RuleSpec): { filter: string[]; nat: string[] } {
  const cluster = formatCidr(spec.clusterCidr);
  const filter = [
    `-A ${FORWARD_CHAIN} -s ${cluster} -m comment --comment "podnet: pod traffic" -j ACCEPT`,
    `-A ${FORWARD_CHAIN} -d ${cluster} -m comment --comment "podnet: pod traffic" -j ACCEPT`,
  ];
  const nat = spec.ipMasq
    ? [
        `-A ${POSTROUTING_CHAIN} -d ${cluster} -m comment --comment "podnet: cluster traffic keeps its pod source IP" -j RETURN`,
        `-A ${POSTROUTING_CHAIN} -s ${formatCidr(spec.subnet)} -m comment --comment "podnet: masquerade pods leaving the cluster" -j MASQUERADE`,
      ]
    : [];
  return { filter, nat };
}

const jumpLine = (chain: string, target: string) => `-A ${chain} -m comment --comment ${JUMP_COMMENT} -j ${target}`;

/** Splits iptables-save output into table -> rule lines. */
export function parseSave(save: string): Map<string, string[]> {
  const tables = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of save.split("\n")) {
    if (line.startsWith("*")) {
      current = [];
      tables.set(line.slice(1), current);
    } else if (line.startsWith("-A ") && current) {
      current.push(line);
    }
  }
  return tables;
}

/** What is wrong with the live rules; empty when nothing needs doing. */
export function ruleDrift(save: string, spec: RuleSpec): string[] {
  const tables = parseSave(save);
  const want = desiredRules(spec);
  const drift: string[] = [];
  const checks: Array<[string, string, string, string[]]> = [
    ["filter", "FORWARD", FORWARD_CHAIN, want.filter],
    ["nat", "POSTROUTING", POSTROUTING_CHAIN, want.nat],
  ];
  for (const [table, parent, chain, rules] of checks) {
    const lines = tables.get(table) ?? [];
    const jumps = lines.filter((l) => l === jumpLine(parent, chain)).length;
    if (jumps !== 1) drift.push(`${table} ${parent} has ${jumps} jumps to ${chain}`);
    const have = lines.filter((l) => l.startsWith(`-A ${chain} `));
    if (have.join("\n") !== rules.join("\n")) drift.push(`${table} ${chain} differs`);
  }
  return drift;
}

/** The repair, run as one shell script under flock: rewrite our chains, then one jump each. */
export function repairScript(spec: RuleSpec): string {
  const want = desiredRules(spec);
  const restore = [
    "*filter",
    `:${FORWARD_CHAIN} - [0:0]`,
    ...want.filter,
    "COMMIT",
    "*nat",
    `:${POSTROUTING_CHAIN} - [0:0]`,
    ...want.nat,
    "COMMIT",
  ].join("\n");
  return [
    "set -eu",
    // Declaring a chain in a --noflush restore creates it or empties it: one atomic rewrite.
    `iptables-restore -w 5 --noflush <<'PODNET_RULES'\n${restore}\nPODNET_RULES`,
    "ensure_jump() {",
    `  n=$(iptables-save -t "$1" | grep -cxF -- "-A $2 -m comment --comment ${JUMP_COMMENT} -j $3" || true)`,
    `  while [ "$n" -gt 1 ]; do iptables -w 5 -t "$1" -D "$2" -m comment --comment ${JUMP_COMMENT} -j "$3"; n=$((n - 1)); done`,
    `  if [ "$n" -eq 0 ]; then iptables -w 5 -t "$1" -I "$2" 1 -m comment --comment ${JUMP_COMMENT} -j "$3"; fi`,
    "}",
    `ensure_jump filter FORWARD ${FORWARD_CHAIN}`,
    `ensure_jump nat POSTROUTING ${POSTROUTING_CHAIN}`,
  ].join("\n");
}

/**
 * The lock file for the network namespace at `netnsPath` (a bind mount under /run/netns,
 * or /proc/<pid>/ns/net), named by its nsfs inode: one lock per namespace, so the nodes of
 * the lab share /run but not their rules.
 */
export function netfilterLockFile(netnsPath: string): string {
  return `${NETFILTER_LOCK_DIR}/netfilter-${statSync(netnsPath).ino}.lock`;
}

function lockPath(): string {
  mkdirSync(NETFILTER_LOCK_DIR, { recursive: true });
  return netfilterLockFile("/proc/self/ns/net");
}

/** Every rule podnet wants, one per line: what a node check's fingerprint covers. */
export function rulesText(spec: RuleSpec): string[] {
  const want = desiredRules(spec);
  return [...want.filter, ...want.nat];
}

export function readIptables(): string {
  const res = run("iptables-save", []);
  if (res.status !== 0) {
    throw new CniError(
      ErrorCode.NetworkSetupFailed,
      `iptables-save failed: ${res.stderr.trim()}`,
      "is the iptables package installed and the plugin running as root?",
    );
  }
  return res.stdout;
}

/** Makes the node's forwarding and masquerade rules right; changes nothing when they are. */
export function ensureNodeRules(spec: RuleSpec): { changed: boolean } {
  if (ruleDrift(readIptables(), spec).length === 0) return { changed: false };
  const res = run("flock", ["-w", "30", lockPath(), "sh", "-c", repairScript(spec)]);
  if (res.status !== 0) {
    const busy =
      /lock|Resource temporarily unavailable/i.test(res.stderr) || (res.status === 1 && res.stderr.trim() === "");
    throw new CniError(
      busy ? ErrorCode.TryAgainLater : ErrorCode.NetworkSetupFailed,
      `cannot set up podnet's iptables rules: ${res.stderr.trim() || `exit ${res.status}`}`,
      "iptables-save | grep -i podnet shows what is there",
    );
  }
  return { changed: true };
}

export function ensureIpForward(): void {
  if (readFileSync(IP_FORWARD, "utf8").trim() === "1") return;
  try {
    writeFileSync(IP_FORWARD, "1\n");
  } catch (e) {
    throw new CniError(
      ErrorCode.NetworkSetupFailed,
      `cannot enable ${IP_FORWARD}: ${(e as Error).message}`,
      "the plugin must run as root",
    );
  }
}
