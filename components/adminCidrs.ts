// podnet:adminCidrs, the sources allowed to reach SSH and the API server: parsed from the
// list `pulumi config set --path` stores (or a comma-separated string) and refused when,
// alone or together, the entries open the nodes to a large part of the internet.
import { type Cidr, cidrSize, formatCidr, tryParseCidr } from "../cni/ipv4";

/** The widest reach the entries may have together: one /8 (16 777 216 addresses). */
export const ADMIN_CIDRS_MAX_ADDRESSES = 2 ** 24;

/** What a problem reports back to the config reader. */
export type AdminCidrProblem = (message: string, fix: string) => void;

const EXAMPLE = "203.0.113.7/32";
const YOUR_ADDRESS = "(your address: curl -s https://checkip.amazonaws.com)";
const SET_FIRST = `pulumi config set --path 'podnet:adminCidrs[0]' ${EXAMPLE}`;
/** Replaces the whole list: a fix for one entry cannot repair a list whose entries add up. */
export const ADMIN_CIDRS_FIX = `${SET_FIRST}   ${YOUR_ADDRESS}`;
const REPLACE_LIST = `pulumi config rm podnet:adminCidrs && ${SET_FIRST}   ${YOUR_ADDRESS}`;

/** Addresses covered by the union of the CIDRs (overlaps counted once). */
export function unionSize(cidrs: readonly Cidr[]): number {
  const ranges = cidrs
    .map((c) => [c.network >>> 0, (c.network >>> 0) + cidrSize(c)] as const)
    .sort((a, b) => a[0] - b[0]);
  let total = 0;
  let end = -1;
  for (const [from, to] of ranges) {
    if (to <= end) continue;
    total += to - Math.max(from, end);
    end = to;
  }
  return total;
}

function entries(raw: string | undefined, problem: AdminCidrProblem): unknown[] | undefined {
  const trimmed = (raw ?? "").trim();
  if (trimmed === "" || trimmed === "[]") {
    problem(
      "is required: the addresses allowed to reach SSH (22) and the API server (6443); there is no default",
      ADMIN_CIDRS_FIX,
    );
    return undefined;
  }
  let values: unknown = trimmed.split(",").map((v) => v.trim());
  if (trimmed.startsWith("[")) {
    try {
      values = JSON.parse(trimmed);
    } catch {
      values = undefined;
    }
  }
  if (!Array.isArray(values) || values.length === 0) {
    problem(`${trimmed} is not a list of CIDRs`, REPLACE_LIST);
    return undefined;
  }
  return values;
}

/**
 * The canonical CIDRs, or problems. 0.0.0.0/0 is refused, and so is any set of entries that
 * together reach more than a /8 (0.0.0.0/1 plus 128.0.0.0/1 is 0.0.0.0/0 by other means):
 * opening SSH and the API server to the internet is exactly what the labs got wrong.
 */
export function parseAdminCidrs(raw: string | undefined, problem: AdminCidrProblem): string[] {
  const values = entries(raw, problem);
  if (!values) return [];
  const cidrs: Cidr[] = [];
  let bad = false;
  values.forEach((value, index) => {
    const parsed = tryParseCidr(typeof value === "string" ? value.trim() : value);
    const setItem = `pulumi config set --path 'podnet:adminCidrs[${index}]' ${EXAMPLE}`;
    if (!parsed.ok) {
      bad = true;
      problem(`item ${index}: ${parsed.reason}`, setItem);
    } else if (parsed.cidr.prefix === 0) {
      bad = true;
      problem(
        `item ${index}: ${formatCidr(parsed.cidr)} would open SSH and the API server to the whole internet; list the addresses you administer from`,
        `${setItem}   ${YOUR_ADDRESS}`,
      );
    } else {
      cidrs.push(parsed.cidr);
    }
  });
  if (bad) return [];
  const reach = unionSize(cidrs);
  if (reach > ADMIN_CIDRS_MAX_ADDRESSES) {
    const what = reach === 2 ** 32 ? "every IPv4 address, as 0.0.0.0/0 would" : `${reach} addresses, more than a /8`;
    problem(
      `${cidrs.map(formatCidr).join(", ")} together reach ${what}; list the addresses you administer from`,
      REPLACE_LIST,
    );
    return [];
  }
  return cidrs.map(formatCidr);
}
