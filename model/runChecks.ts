// Runs the table of checks through a Driver and judges what it saw. A check passes only
// when the path works and the far end saw what it must (the source address, the endpoint
// that answered, the DNS answer); a negative control passes only when nothing gets through.
import type {
  Actor,
  Case,
  CheckRow,
  CheckSpec,
  Driver,
  Expect,
  Observation,
  Perturbation,
  Probe,
  Topology,
} from "./checks";

/** A negative control gives up sooner: there is nothing to wait for. */
export const TIMEOUT_MS = { expectPass: 2000, expectFail: 1000 } as const;

export function actorLabel(a: Actor): string {
  return a.kind === "node" ? `node ${a.name}` : a.name;
}

export function probeLabel(p: Probe): string {
  if (p.kind === "icmp") return `${p.label} ${p.host}`;
  if (p.kind === "dns") return p.label;
  return `${p.label} ${p.host}:${p.port}${p.kind === "udp" ? "/udp" : ""}`;
}

export function describeExpect(p: Probe, e: Expect): string {
  if (p.kind === "icmp") return e.fail ? "no ICMP reply" : "ICMP echo reply";
  if (p.kind === "dns") return e.fail ? "no answer" : `A ${(e.addresses ?? []).join(", ")}`;
  if (e.fail) return p.kind === "udp" ? "no reply" : "no connection";
  const parts: string[] = [];
  if (e.agent) parts.push(e.agent);
  if (e.peer) parts.push(`src ${e.peer}`);
  return parts.join(" ") || "connects";
}

/** ok and the `seen` column for one observation. */
export function judge(p: Probe, e: Expect, o: Observation): { ok: boolean; seen: string } {
  const failed = e.fail === true;
  if (!o.ok) {
    const what = p.kind === "tcp" ? "no connection" : p.kind === "dns" ? "no answer" : "no reply";
    return { ok: failed, seen: `${what}${o.error ? ` (${o.error})` : ""}` };
  }
  if (p.kind === "icmp") return { ok: !failed, seen: "reply" };
  if (p.kind === "dns") {
    const got = [...(o.addresses ?? [])].sort();
    const want = [...(e.addresses ?? [])].sort();
    const seen = got.length ? `A ${got.join(", ")}` : "empty answer";
    return {
      ok: !failed && got.length === want.length && got.every((a, i) => a === want[i]),
      seen: failed ? `answered: ${seen}` : seen,
    };
  }
  const seen = o.peer === undefined ? "connected" : `${e.agent ? `${o.agent} ` : ""}src ${o.peer}`;
  if (failed) return { ok: false, seen: `connected: ${seen}` };
  return { ok: (e.peer === undefined || o.peer === e.peer) && (e.agent === undefined || o.agent === e.agent), seen };
}

async function observe(driver: Driver, c: Case): Promise<Observation> {
  const timeout = c.expect.fail ? TIMEOUT_MS.expectFail : TIMEOUT_MS.expectPass;
  const p = c.probe;
  try {
    if (p.kind === "icmp") return await driver.ping(c.from, p.host, timeout);
    if (p.kind === "dns") return await driver.resolve(c.from, p.name, timeout);
    return await driver.connect(c.from, p.kind, p.host, p.port, timeout);
  } catch (e) {
    // A driver that throws (an agent gone, kubectl missing) fails the row, not the run.
    return { ok: false, error: (e as Error).message, ms: 0 };
  }
}

export async function runCase(driver: Driver, spec: CheckSpec, c: Case, phase: string): Promise<CheckRow> {
  const started = Date.now();
  const o = await observe(driver, c);
  const verdict = judge(c.probe, c.expect, o);
  const ms = o.ms || Date.now() - started;
  return {
    phase,
    group: spec.group,
    from: actorLabel(c.from),
    to: probeLabel(c.probe),
    expect: describeExpect(c.probe, c.expect),
    seen: verdict.seen,
    ok: verdict.ok,
    ms,
  };
}

/** All cases of these specs concurrently; rows in table order. */
async function runSpecs(driver: Driver, specs: readonly CheckSpec[], t: Topology, phase: string): Promise<CheckRow[]> {
  const jobs = specs.flatMap((s) => (s.cases ? s.cases(t) : []).map((c) => runCase(driver, s, c, phase)));
  return Promise.all(jobs);
}

export interface RunOptions {
  /** The phase name written into every row. */
  readonly phase: string;
  /** The first pass also runs the `once` rows (the negative controls). */
  readonly first: boolean;
  /** Called between steps, e.g. to stop on Ctrl-C. */
  readonly guard?: () => void;
}

/**
 * The table's runnable rows (those with cases): the plain ones concurrently, then each
 * change in turn, its `under` rows while it is in force and its `after` rows once undone.
 * Lifecycle rows (no cases) are the caller's.
 */
export async function runTable(
  table: readonly CheckSpec[],
  driver: Driver,
  t: Topology,
  opts: RunOptions,
): Promise<CheckRow[]> {
  const runnable = table.filter((s) => s.cases && (opts.first || !s.once));
  const rows = await runSpecs(
    driver,
    runnable.filter((s) => !s.under && !s.after),
    t,
    opts.phase,
  );
  const changes = [
    ...new Set(runnable.map((s) => s.under ?? s.after).filter((x): x is Perturbation => x !== undefined)),
  ];
  for (const change of changes) {
    opts.guard?.();
    if (!driver.perturb) continue;
    const undo = await driver.perturb(change);
    try {
      rows.push(
        ...(await runSpecs(
          driver,
          runnable.filter((s) => s.under === change),
          t,
          opts.phase,
        )),
      );
    } finally {
      await undo();
    }
    rows.push(
      ...(await runSpecs(
        driver,
        runnable.filter((s) => s.after === change),
        t,
        opts.phase,
      )),
    );
  }
  return rows;
}
