// Reading what the tools in the agnhost image print, so the checks judge facts rather than
// exit codes. Each parser takes the text as captured and either returns what it says or
// throws an error quoting it: an answer nobody can read is a failed check, never a pass.
//
//   curl http://IP:8080/hostname /clientip   netexec: "web-worker-1", "10.244.1.5:41234"
//   curl .../dial?protocol=udp&...           netexec: {"responses":[...]} or {"errors":[...]}
//   dig +short NAME                          bind-tools: one address per line, ";;" errors
//   ping -c N IP                             busybox: "N packets transmitted, M packets received"
//   curl https://checkip.amazonaws.com       the caller's public address
import { parseIPv4 } from "../cni/ipv4";

export interface Peer {
  readonly ip: string;
  readonly port: number;
}

function quote(text: string): string {
  const t = text.trim();
  return JSON.stringify(t.length > 160 ? `${t.slice(0, 160)}...` : t);
}

function ipv4(text: string): string | undefined {
  return parseIPv4(text) === undefined ? undefined : text;
}

/** netexec's /clientip (HTTP) and `clientip` (UDP): the request's remote address, ip:port. */
export function parseClientIp(text: string): Peer {
  const m = /^(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$/.exec(text.trim());
  if (!m || !ipv4(m[1])) throw new Error(`not a client address (ip:port): ${quote(text)}`);
  return { ip: m[1], port: Number(m[2]) };
}

/** netexec's /hostname: the pod's hostname, which is its name. */
export function parseHostname(text: string): string {
  const name = text.trim();
  if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(name)) throw new Error(`not a hostname: ${quote(text)}`);
  return name;
}

export interface DialResult {
  readonly responses: readonly string[];
  readonly errors: readonly string[];
}

/** netexec's /dial: JSON with `responses` (answers) and `errors` (failed tries), either may be absent. */
export function parseDial(text: string): DialResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error(`/dial did not answer JSON: ${quote(text)}`);
  }
  const list = (key: string): string[] => {
    const v = (value as Record<string, unknown>)[key];
    if (v === undefined) return [];
    if (!Array.isArray(v) || !v.every((x) => typeof x === "string"))
      throw new Error(`/dial's ${key} is not a list of strings: ${quote(text)}`);
    return v;
  };
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new Error(`/dial did not answer an object: ${quote(text)}`);
  return { responses: list("responses"), errors: list("errors") };
}

/** The one answer of a single-try /dial, or an error saying what the dialer saw. */
export function dialAnswer(text: string): string {
  const r = parseDial(text);
  if (r.responses.length > 0) return r.responses[r.responses.length - 1];
  throw new Error(r.errors[0] ?? `/dial returned neither responses nor errors: ${quote(text)}`);
}

/**
 * curl given several URLs with `-w '\n'` prints each body followed by a newline. Returns the
 * bodies in order; fewer than expected means a request failed (curl says why on stderr).
 */
export function splitBodies(text: string, count: number): string[] {
  const lines = text.replace(/\r/g, "").split("\n");
  if (lines.at(-1) === "") lines.pop();
  if (lines.length !== count) throw new Error(`expected ${count} answers, got ${lines.length}: ${quote(text)}`);
  return lines;
}

export interface DnsAnswer {
  readonly addresses: readonly string[];
}

/** `dig +short NAME A`: the addresses, in order; CNAMEs are skipped; ";;" lines are dig's errors. */
export function parseDig(text: string): DnsAnswer {
  const lines = text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "");
  const error = lines.find((l) => l.startsWith(";;"));
  if (error) throw new Error(error.replace(/^;;\s*/, ""));
  const addresses = lines.filter((l) => ipv4(l) !== undefined);
  if (addresses.length === 0)
    throw new Error(
      lines.length === 0 ? "no answer (NXDOMAIN or SERVFAIL)" : `no address in the answer: ${quote(text)}`,
    );
  return { addresses };
}

export interface PingResult {
  readonly transmitted: number;
  readonly received: number;
}

/** busybox and iputils ping both print "N packets transmitted, M (packets )?received". */
export function parsePing(text: string): PingResult {
  const m = /(\d+) packets transmitted, (\d+) (?:packets )?received/.exec(text);
  if (!m) throw new Error(`no ping statistics: ${quote(text)}`);
  return { transmitted: Number(m[1]), received: Number(m[2]) };
}

/** checkip.amazonaws.com answers the caller's public IPv4 address and a newline. */
export function parsePublicIp(text: string): string {
  const ip = text.trim();
  if (!ipv4(ip)) throw new Error(`not an IPv4 address: ${quote(text)}`);
  return ip;
}
