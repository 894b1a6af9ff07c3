// The lab as an environment for the table of checks (model/checkTable.ts): its Topology
// read off the plan and the running pods, and a Driver that acts through the agents in the
// lab's namespaces. Every probe starts inside the actor's namespace and reads the far end's
// own report, so a row sees what the receiving side saw.
import type { Actor, Driver, Observation, Perturbation, Topology } from "../model/checks";
import { API_SERVER_PORT, SSH_PORT } from "../model/ports";
import { type AgentHandle, type Probe, probe, resolveName } from "./agents";
import { INTERNET_PORT, type LabPlan, NODE_PORT, WEB_HOST_PORT } from "./labPlan";
import { inNetns, run } from "./sh";

export function labTopology(plan: LabPlan, podIps: ReadonlyMap<string, string>): Topology {
  const ip = (pod: string) => {
    const found = podIps.get(pod);
    if (!found) throw new Error(`pod ${pod} is not running`);
    return found;
  };
  return {
    nodes: plan.nodes.map((n) => ({
      name: n.name,
      role: n.plan.role,
      ip: n.ip,
      gateway: n.plan.gateway,
      podCidr: n.plan.podCidr,
    })),
    pods: plan.pods
      .filter((p) => podIps.has(p.name))
      .map((p) => ({ name: p.name, role: p.kind, node: p.node, ip: ip(p.name), port: p.port })),
    services: plan.services.map((s) => ({
      name: s.name,
      namespace: s.namespace,
      ip: s.ip,
      port: s.port,
      protocol: s.protocol,
      endpoint: s.endpoint,
    })),
    nodePort: NODE_PORT,
    webHostPort: WEB_HOST_PORT,
    sshPort: SSH_PORT,
    apiServerPort: API_SERVER_PORT,
    internet: { ip: plan.internet.ip, port: INTERNET_PORT },
    admin: { ip: plan.admin.ip },
  };
}

export interface LabDriverContext {
  /** The agent that acts for a pod, a node or an outside address. */
  agent(actor: Actor): AgentHandle;
  /** The changes the negative controls make; each returns its undo. */
  perturb(change: Perturbation): Promise<() => Promise<void>>;
}

function fromProbe(p: Probe): Observation {
  return { ok: p.ok, peer: p.seen?.peer, agent: p.seen?.agent, error: p.error, ms: p.ms };
}

export class LabDriver implements Driver {
  constructor(private readonly ctx: LabDriverContext) {}

  async connect(
    from: Actor,
    protocol: "tcp" | "udp",
    host: string,
    port: number,
    timeoutMs: number,
  ): Promise<Observation> {
    const agent = this.ctx.agent(from);
    return fromProbe(await probe(agent, protocol, host, port, timeoutMs));
  }

  async ping(from: Actor, host: string, timeoutMs: number): Promise<Observation> {
    const started = Date.now();
    const seconds = String(Math.max(1, Math.ceil(timeoutMs / 1000)));
    const ran = await run(inNetns(this.ctx.agent(from).netns, ["ping", "-c", "1", "-W", seconds, "-n", "-q", host]));
    return { ok: ran.status === 0, error: ran.status === 0 ? undefined : "no echo reply", ms: Date.now() - started };
  }

  async resolve(from: Actor, name: string, timeoutMs: number): Promise<Observation> {
    const r = await resolveName(this.ctx.agent(from), name, timeoutMs);
    return { ok: r.ok, addresses: r.addresses, error: r.error, ms: r.ms };
  }

  perturb(change: Perturbation): Promise<() => Promise<void>> {
    return this.ctx.perturb(change);
  }
}
