// The node check an ADD can skip. A full ADD reads the bridge (its addresses, that it is a
// bridge and up) and the iptables rules, repairs what is wrong, and records that in the
// bridge's alias: which config it checked, in which network namespace, and when. An ADD
// within NODE_RECHECK_SECONDS of that check, for the same config, reads the alias, the
// bridge's ifindex and flags from sysfs (no process) and sets the pod up with one `ip`
// process inside the pod (cni/links.ts createAttachmentFromPod). So a burst of pods pays
// for one check; the first ADD after a reboot, after the bridge was recreated, or after a
// CHECK found something wrong always checks.
//
// Sysfs shows the devices of the namespace it was mounted in, which is the plugin's own on
// a node, but not when a caller enters only the network namespace (nsenter --net). The
// namespace's inode in the alias makes that case read as "not verified": the full path.
import { readFileSync, statSync } from "./fs";
import { fnv1a64 } from "./hash";

export const NODE_RECHECK_SECONDS = 30;
const VERIFIED = "podnet: node";
const VERIFIED_ALIAS = new RegExp(`^${VERIFIED} ([0-9a-f]+) netns (\\d+) verified (\\d+)$`);
const IFF_UP = 0x1;

/** Inode of this process's network namespace: names it in the alias. */
export function currentNetnsInode(): number {
  return statSync("/proc/self/ns/net").ino;
}

/** Digest of what a check covers: every rule and bridge setting, as text. */
export function nodeFingerprint(parts: readonly string[]): string {
  return fnv1a64(parts.join("\n")).slice(0, 12);
}

/** The bridge alias that says the node was checked for `fingerprint` at `nowSeconds`. */
export function verifiedAlias(fingerprint: string, netnsInode: number, nowSeconds: number): string {
  return `${VERIFIED} ${fingerprint} netns ${netnsInode} verified ${Math.floor(nowSeconds)}`;
}

/** True when the alias records a check of this config, in this namespace, within the window. */
export function recentlyVerified(alias: string, fingerprint: string, netnsInode: number, nowSeconds: number): boolean {
  const match = VERIFIED_ALIAS.exec(alias);
  if (!match || match[1] !== fingerprint || Number(match[2]) !== netnsInode) return false;
  const age = nowSeconds - Number(match[3]);
  return age >= 0 && age < NODE_RECHECK_SECONDS;
}

export interface SysfsBridge {
  ifindex: number;
  up: boolean;
  alias: string;
}

/** The bridge as this process's sysfs shows it; undefined when sysfs has no such device. */
export function readSysfsBridge(name: string): SysfsBridge | undefined {
  const dir = `/sys/class/net/${name}`;
  try {
    const alias = readFileSync(`${dir}/ifalias`, "utf8").trim();
    const ifindex = Number(readFileSync(`${dir}/ifindex`, "utf8"));
    const flags = Number(readFileSync(`${dir}/flags`, "utf8"));
    if (!Number.isInteger(ifindex) || ifindex <= 0 || !Number.isInteger(flags)) return undefined;
    return { ifindex, up: (flags & IFF_UP) !== 0, alias };
  } catch {
    return undefined;
  }
}
