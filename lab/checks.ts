// The checks the lab proves, as rows of a table. Every connectivity check is a real TCP
// connection opened from inside the client's namespace, and passes only when the server
// on the far side reports the source address the check expects: a check fails when the
// path is broken and when the path works but the address is wrong (a pod masqueraded
// where it must not be, a node that did not masquerade where it must).
import type { Probe } from "./agents";

export interface CheckRow {
  phase: string;
  group: string;
  from: string;
  to: string;
  expect: string;
  seen: string;
  ok: boolean;
  ms: number;
}

export interface Expectation {
  /** Source address the server must see. */
  peer?: string;
  /** Agent that must answer (a service must land on its endpoint). */
  agent?: string;
  /** The connection must fail (a negative control). */
  fail?: boolean;
}

export function describeExpectation(e: Expectation): string {
  if (e.fail) return "no connection";
  const parts: string[] = [];
  if (e.agent) parts.push(e.agent);
  if (e.peer) parts.push(`src ${e.peer}`);
  return parts.join(" ") || "connects";
}

export function judge(probe: Probe, e: Expectation): { ok: boolean; seen: string } {
  if (!probe.ok || !probe.seen) {
    return { ok: e.fail === true, seen: `no connection (${probe.error ?? "failed"})` };
  }
  const seen = `${e.agent ? `${probe.seen.agent} ` : ""}src ${probe.seen.peer}`;
  if (e.fail) return { ok: false, seen: `connected: ${seen}` };
  const ok = (e.peer === undefined || probe.seen.peer === e.peer) && (e.agent === undefined || probe.seen.agent === e.agent);
  return { ok, seen };
}
