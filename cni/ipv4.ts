// IPv4 address and CIDR arithmetic. Pure functions shared by the plugin, the Pulumi
// program, the lab and the tests: one source of truth for what a CIDR means.

export interface Cidr {
  /** Network address as an unsigned 32-bit integer. */
  readonly network: number;
  readonly prefix: number;
}

const OCTET = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/** Parses dotted-quad IPv4; returns undefined when the text is not one. */
export function parseIPv4(text: string): number | undefined {
  const parts = text.split(".");
  if (parts.length !== 4 || !parts.every((p) => OCTET.test(p))) return undefined;
  return parts.reduce((acc, p) => acc * 256 + Number(p), 0);
}

export function formatIPv4(value: number): string {
  return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join(".");
}

export function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

export type CidrParse = { ok: true; cidr: Cidr } | { ok: false; reason: string };

/**
 * Parses "a.b.c.d/n". Host bits must be zero, so "10.244.1.5/24" is refused with the
 * canonical form in the reason rather than silently truncated.
 */
export function tryParseCidr(text: unknown): CidrParse {
  if (typeof text !== "string") return { ok: false, reason: "must be a string like 10.244.1.0/24" };
  const match = /^([0-9.]+)\/(\d{1,2})$/.exec(text.trim());
  if (!match) return { ok: false, reason: `"${text}" is not a CIDR like 10.244.1.0/24` };
  const address = parseIPv4(match[1]);
  const prefix = Number(match[2]);
  if (address === undefined) return { ok: false, reason: `"${match[1]}" is not an IPv4 address` };
  if (prefix > 32) return { ok: false, reason: `prefix /${prefix} is larger than /32` };
  const network = (address & maskOf(prefix)) >>> 0;
  if (network !== address) {
    return {
      ok: false,
      reason: `"${text}" has host bits set; the network is ${formatIPv4(network)}/${prefix}`,
    };
  }
  return { ok: true, cidr: { network, prefix } };
}

export function parseCidr(text: string): Cidr {
  const parsed = tryParseCidr(text);
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.cidr;
}

export function formatCidr(cidr: Cidr): string {
  return `${formatIPv4(cidr.network)}/${cidr.prefix}`;
}

export function cidrSize(cidr: Cidr): number {
  return 2 ** (32 - cidr.prefix);
}

export function broadcastOf(cidr: Cidr): number {
  return cidr.network + cidrSize(cidr) - 1;
}

export function cidrContainsIp(cidr: Cidr, ip: number): boolean {
  return (ip & maskOf(cidr.prefix)) >>> 0 === cidr.network;
}

/** True when every address of `inner` lies in `outer`. */
export function cidrContains(outer: Cidr, inner: Cidr): boolean {
  return inner.prefix >= outer.prefix && cidrContainsIp(outer, inner.network);
}

export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  return cidrContains(a, b) || cidrContains(b, a);
}

/** The index-th subnet of size /newPrefix inside `parent`. */
export function nthSubnet(parent: Cidr, newPrefix: number, index: number): Cidr {
  if (newPrefix < parent.prefix || newPrefix > 32) {
    throw new Error(`cannot split ${formatCidr(parent)} into /${newPrefix} subnets`);
  }
  const count = 2 ** (newPrefix - parent.prefix);
  if (!Number.isInteger(index) || index < 0 || index >= count) {
    throw new Error(`${formatCidr(parent)} holds ${count} /${newPrefix} subnets; index ${index} is out of range`);
  }
  return { network: parent.network + index * 2 ** (32 - newPrefix), prefix: newPrefix };
}

/** How many /newPrefix subnets fit in `parent`. */
export function subnetCount(parent: Cidr, newPrefix: number): number {
  return newPrefix < parent.prefix ? 0 : 2 ** (newPrefix - parent.prefix);
}

/** The first usable host address: the gateway podnet puts on the node's bridge (the subnet's .1). */
export function gatewayOf(cidr: Cidr): number {
  return cidr.network + 1;
}

/**
 * A locally administered unicast MAC derived from the IP, as Kubernetes' bridge plugins
 * do (0a:58:...), so a pod keeps its MAC when it keeps its IP and the result needs no
 * extra read of the interface.
 */
export function macForIp(ip: number): string {
  const bytes = [0x0a, 0x58, ip >>> 24, (ip >>> 16) & 255, (ip >>> 8) & 255, ip & 255];
  return bytes.map((b) => b.toString(16).padStart(2, "0")).join(":");
}
