// The table of checks and its runner, without a network: a fake Driver records what the
// runner asks and answers as told, so the expansion over a topology, the verdicts and the
// order of the negative controls are checked on their own. The lab's e2e test runs the
// same table against the real namespaces.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { labTopology } from "../lab/driver";
import { buildPlan } from "../lab/labPlan";
import type { Actor, Driver, Observation, Perturbation, Probe, Topology } from "../model/checks";
import { CHECK_TABLE, checkSpec, LIFECYCLE_ROWS, renderChecksMarkdown } from "../model/checkTable";
import { judge, runTable } from "../model/runChecks";
import { CHECKS_BEGIN, CHECKS_DOC, CHECKS_END, checksSection } from "../scripts/checks-doc";

function topology(workers = 2): Topology {
  const plan = buildPlan({ prefix: "pnunit", workers, keep: false, iperfSeconds: 0 });
  const ips = new Map<string, string>();
  for (const node of plan.workers) {
    plan.pods
      .filter((p) => p.node === node.name)
      .forEach((p, i) => {
        ips.set(p.name, node.plan.podCidr.replace(/0\/24$/, String(2 + i)));
      });
  }
  return labTopology(plan, ips);
}

type Answer = (from: Actor, what: string, active: ReadonlySet<Perturbation>) => Observation;

/** Records every call (with the changes in force at the time) and answers through `answer`. */
class FakeDriver implements Driver {
  readonly calls: Array<{ from: Actor; what: string; active: Perturbation[] }> = [];
  readonly log: string[] = [];
  private readonly active = new Set<Perturbation>();
  constructor(private readonly answer: Answer) {}
  private note(from: Actor, what: string): Observation {
    this.calls.push({ from, what, active: [...this.active] });
    return this.answer(from, what, this.active);
  }
  async connect(from: Actor, protocol: "tcp" | "udp", host: string, port: number): Promise<Observation> {
    return this.note(from, `${protocol} ${host}:${port}`);
  }
  async ping(from: Actor, host: string): Promise<Observation> {
    return this.note(from, `icmp ${host}`);
  }
  async resolve(from: Actor, name: string): Promise<Observation> {
    return this.note(from, `dns ${name}`);
  }
  async perturb(change: Perturbation): Promise<() => Promise<void>> {
    this.active.add(change);
    this.log.push(`+${change}`);
    return async () => {
      this.active.delete(change);
      this.log.push(`-${change}`);
    };
  }
}

const nothing: Answer = () => ({ ok: false, error: "timed out", ms: 1 });

describe("the table of checks", () => {
  it("declares every row once, with its ends, what must be seen and its seed step", () => {
    const names = CHECK_TABLE.map((s) => s.group);
    assert.equal(new Set(names).size, names.length, "duplicate row names");
    for (const s of CHECK_TABLE) {
      for (const field of ["from", "to", "must", "seed"] as const)
        assert.ok(s[field].trim().length > 0, `${s.group}: ${field}`);
      assert.ok(!(s.under && s.after), `${s.group}: under and after`);
      if (s.under || s.after) assert.ok(s.once, `${s.group}: a negative control runs in the first pass only`);
    }
    assert.throws(() => checkSpec("no such row"), /no check named "no such row" in model\/checkTable\.ts/);
    // The lab's lifecycle rows are declared in the table too (for the docs), without cases.
    for (const name of Object.values(LIFECYCLE_ROWS)) assert.equal(checkSpec(name).cases, undefined, name);
  });

  it("expands over the lab's topology: every pod, every worker, the outside addresses", () => {
    const t = topology();
    const count = (group: string) => checkSpec(group).cases?.(t).length;
    assert.equal(count("pod -> its gateway (ICMP)"), 5, "2 web + 2 shell + coredns");
    assert.equal(count("pod -> pod, other node"), 2);
    assert.equal(count("DNS: pod resolves a service (UDP)"), 5);
    assert.equal(count("UDP service from pod, other node"), 1);
    assert.equal(count("SSH and API server from admin"), 2);
    assert.equal(count("SSH and API server from internet"), 2);
    assert.equal(count("SG without pod CIDR: DNS from other node"), 2, "the pods on worker-2");
    assert.equal(count("SG without pod CIDR: DNS on DNS's node"), 3, "the pods on worker-1");
    const dns = checkSpec("DNS: pod resolves a service (UDP)").cases?.(t) ?? [];
    const web = t.services.find((s) => s.name === "web");
    for (const c of dns) assert.deepEqual(c.expect.addresses, [web?.ip]);
    const udp = checkSpec("UDP service from pod, other node").cases?.(t)[0];
    assert.ok(udp, "the UDP service check yields a case");
    assert.equal(udp.probe.kind, "udp");
    assert.equal(udp.expect.agent, "web-worker-1");
    assert.equal(udp.from.kind, "pod");
    assert.notEqual(t.pods.find((p) => p.name === udp.from.name)?.node, "worker-1", "the client is on the other node");
    // kube-dns sits at kubeadm's address: the 10th of serviceCidr.
    assert.equal(t.services.find((s) => s.name === "kube-dns")?.ip, "10.96.0.10");
  });

  it("yields no case where the environment lacks an end (a cluster without an internet vantage point)", () => {
    const t = { ...topology(), internet: undefined, admin: undefined, webHostPort: undefined };
    for (const group of [
      "pod -> internet (masqueraded)",
      "SSH and API server from admin",
      "SSH and API server from internet",
      "hostPort (portmap)",
      "admin to another port",
    ]) {
      assert.deepEqual(checkSpec(group).cases?.(t), [], group);
    }
  });

  it("passes a row only when the far end saw what it must", () => {
    const tcp: Probe = { kind: "tcp", label: "web", host: "10.244.2.2", port: 80 };
    assert.equal(judge(tcp, { peer: "10.244.1.3" }, { ok: true, peer: "10.244.1.3", ms: 1 }).ok, true);
    assert.deepEqual(
      judge(tcp, { peer: "10.244.1.3" }, { ok: true, peer: "10.0.1.11", ms: 1 }),
      { ok: false, seen: "src 10.0.1.11" },
      "masqueraded where it must not be",
    );
    assert.equal(
      judge(tcp, { agent: "web-worker-1" }, { ok: true, agent: "web-worker-2", peer: "x", ms: 1 }).ok,
      false,
      "wrong endpoint",
    );
    assert.deepEqual(
      judge(tcp, { fail: true }, { ok: true, peer: "1.2.3.4", ms: 1 }),
      { ok: false, seen: "connected: src 1.2.3.4" },
      "a negative control that connects fails",
    );
    assert.deepEqual(judge(tcp, { fail: true }, { ok: false, error: "timed out", ms: 1 }), {
      ok: true,
      seen: "no connection (timed out)",
    });
    const dns: Probe = { kind: "dns", label: "web", name: "web" };
    assert.equal(judge(dns, { addresses: ["10.96.0.20"] }, { ok: true, addresses: ["10.96.0.20"], ms: 1 }).ok, true);
    assert.equal(
      judge(dns, { addresses: ["10.96.0.20"] }, { ok: true, addresses: ["10.96.0.30"], ms: 1 }).ok,
      false,
      "the wrong address",
    );
    assert.equal(
      judge(dns, { addresses: ["10.96.0.20"] }, { ok: true, addresses: ["10.96.0.20", "10.96.0.30"], ms: 1 }).ok,
      false,
      "an extra address",
    );
    assert.equal(
      judge(dns, { addresses: ["10.96.0.20"] }, { ok: false, error: "ENOTFOUND", ms: 1 }).seen,
      "no answer (ENOTFOUND)",
    );
    assert.equal(
      judge(dns, { fail: true }, { ok: true, addresses: ["10.96.0.20"], ms: 1 }).ok,
      false,
      "a lookup that should fail but answers",
    );
  });

  it("runs the negative controls' rows under their change and the 'back' rows after the undo", async () => {
    const t = topology();
    const driver = new FakeDriver(nothing);
    const rows = await runTable(CHECK_TABLE, driver, t, { phase: "initial", first: true });
    assert.deepEqual(driver.log, [
      "+hairpin-masq-off",
      "-hairpin-masq-off",
      "+sg-without-pod-cidr",
      "-sg-without-pod-cidr",
    ]);
    // Every runnable row produced its cases.
    const runnable = CHECK_TABLE.filter((s) => s.cases);
    assert.equal(
      rows.length,
      runnable.reduce((n, s) => n + (s.cases?.(t).length ?? 0), 0),
    );
    const byChange = (change: Perturbation | undefined) =>
      driver.calls.filter((c) => (change ? c.active.includes(change) : c.active.length === 0)).length;
    const cases = (group: string) => checkSpec(group).cases?.(t).length ?? 0;
    assert.equal(
      byChange("sg-without-pod-cidr"),
      cases("SG without pod CIDR: pod -> pod, other node") +
        cases("SG without pod CIDR: DNS from other node") +
        cases("SG without pod CIDR: DNS on DNS's node"),
    );
    assert.equal(byChange("hairpin-masq-off"), 1);
    // With nothing getting through, exactly the negative controls pass.
    const passed = new Set(rows.filter((r) => r.ok).map((r) => r.group));
    assert.deepEqual(
      [...passed].sort(),
      CHECK_TABLE.filter((s) => s.cases?.(t).some((c) => c.expect.fail))
        .map((s) => s.group)
        .sort(),
    );
  });

  it("runs the once rows in the first pass only, and skips changes a driver cannot make", async () => {
    const t = topology();
    const again = await runTable(CHECK_TABLE, new FakeDriver(nothing), t, { phase: "after re-add", first: false });
    assert.ok(!again.some((r) => checkSpec(r.group).once), "a once row ran again");
    const fake = new FakeDriver(nothing);
    const plain: Driver = {
      connect: fake.connect.bind(fake),
      ping: fake.ping.bind(fake),
      resolve: fake.resolve.bind(fake),
    };
    const rows = await runTable(CHECK_TABLE, plain, t, { phase: "initial", first: true });
    assert.ok(!rows.some((r) => checkSpec(r.group).under || checkSpec(r.group).after));
  });

  it("fails the row, not the run, when a driver throws", async () => {
    const driver: Driver = {
      connect: async () => {
        throw new Error("agent gone");
      },
      ping: async () => ({ ok: true, ms: 1 }),
      resolve: async () => ({ ok: true, addresses: [], ms: 1 }),
    };
    const rows = await runTable([checkSpec("pod -> pod, same node")], driver, topology(), {
      phase: "initial",
      first: true,
    });
    assert.equal(rows.length, 2);
    for (const r of rows) assert.deepEqual([r.ok, r.seen], [false, "no connection (agent gone)"]);
  });

  it("is the table in the docs (regenerate with: node --import tsx scripts/checks-doc.ts)", () => {
    const doc = readFileSync(join(__dirname, "..", CHECKS_DOC), "utf8");
    assert.ok(
      doc.includes(CHECKS_BEGIN) && doc.includes(CHECKS_END),
      `${CHECKS_DOC} lacks the ${CHECKS_BEGIN} ... ${CHECKS_END} markers`,
    );
    assert.equal(
      checksSection(doc),
      renderChecksMarkdown(),
      `${CHECKS_DOC}'s table of checks differs from model/checkTable.ts: run node --import tsx scripts/checks-doc.ts`,
    );
  });
});
