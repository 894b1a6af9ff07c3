// The real cluster's Driver for the table of checks (model/checks.ts): a pod acts through
// `kubectl exec` in itself, a node through its host pod (netexec in the node's network
// namespace), and the internet is checkip.amazonaws.com, which reports the address it saw.
// There is no perturb(): the negative controls change a cluster's rules, and this cluster
// is the user's, so those rows stay the lab's.
import type { Actor, Driver, Observation, Topology, TopoNode } from "../model/checks";
import { API_SERVER_PORT, SSH_PORT } from "../model/ports";
import type { Deployment } from "./cluster";
import { HOST_PORT, HTTP_PORT, NODE_HTTP_PORT, podName } from "./manifests";
import type { ExecPod, ProbeResult, Probes } from "./probes";

/** The internet end of the cluster's topology: where the pod's public address is read. */
export const INTERNET = { ip: "checkip.amazonaws.com", port: 443 } as const;
/** kubectl exec costs most of a second: the checks' own timeouts start from this floor (s). */
export const MIN_TIMEOUT_S = 5;
/** kubectl processes at once: enough to finish quickly, few enough for a small control plane. */
export const DEFAULT_PARALLEL = 6;
/**
 * A failed probe is tried once more after this pause: on a real cluster a path can lag its
 * objects by a moment (kube-proxy's next sync, a first ARP), which is not what a row tests.
 */
export const RETRY_DELAY_MS = 1000;

/** A node as the cluster's table sees it: with the public address its traffic leaves by. */
export interface ClusterTopoNode extends TopoNode {
  readonly publicIp?: string;
}

export interface ClusterTopology extends Topology {
  readonly nodes: readonly ClusterTopoNode[];
}

/** The table's view of one run: its nodes, web/shell pods and Services; host pods are the nodes. */
export function topologyOf(d: Deployment, publicIps: ReadonlyMap<string, string>): ClusterTopology {
  return {
    nodes: d.nodes.map((n) => ({
      name: n.name,
      role: n.controlPlane ? "control-plane" : "worker",
      ip: n.ip,
      gateway: n.gateway,
      podCidr: n.podCidr,
      ...(publicIps.has(n.name) ? { publicIp: publicIps.get(n.name) } : {}),
    })),
    pods: [...d.pods.values()]
      .filter((p) => p.role !== "host")
      .map((p) => ({
        name: p.name,
        role: p.role === "web" ? "web" : "shell",
        node: p.node,
        ip: p.ip,
        port: HTTP_PORT,
      })),
    services: d.services,
    nodePort: NODE_HTTP_PORT,
    webHostPort: HOST_PORT,
    sshPort: SSH_PORT,
    apiServerPort: API_SERVER_PORT,
    // internet and admin stay unset: nothing here can act from outside the VPC. The
    // cluster's internet row reads the public address instead (verify/table.ts).
  };
}

/** A counting semaphore: at most `limit` jobs at once, in arrival order. */
export function limiter(limit: number): <T>(job: () => Promise<T>) => Promise<T> {
  let running = 0;
  const waiting: Array<() => void> = [];
  return async <T>(job: () => Promise<T>): Promise<T> => {
    if (running >= limit) await new Promise<void>((resolve) => waiting.push(resolve));
    running++;
    try {
      return await job();
    } finally {
      running--;
      waiting.shift()?.();
    }
  };
}

function execPod(from: Actor): ExecPod {
  if (from.kind === "pod") return { name: from.name, httpPort: HTTP_PORT };
  if (from.kind === "node") return { name: podName("host", from.name), httpPort: NODE_HTTP_PORT };
  throw new Error(`the real cluster has no ${from.name} end to act from`);
}

function observation(r: ProbeResult): Observation {
  return { ok: r.ok, peer: r.peer, agent: r.agent, addresses: r.addresses, error: r.error, ms: r.ms };
}

export interface DriverOptions {
  /** kubectl exec calls at once. */
  readonly parallel?: number;
  /** Extra tries for a failed probe (default 1), RETRY_DELAY_MS apart. */
  readonly retries?: number;
  readonly retryDelayMs?: number;
}

export function clusterDriver(probes: Probes, options: DriverOptions = {}): Driver {
  const run = limiter(options.parallel ?? DEFAULT_PARALLEL);
  const retries = options.retries ?? 1;
  const seconds = (ms: number) => Math.max(MIN_TIMEOUT_S, Math.ceil(ms / 1000));
  const tried = async (probe: () => Promise<ProbeResult>): Promise<Observation> => {
    let r = await run(probe);
    for (let i = 0; i < retries && !r.ok; i++) {
      await new Promise((resolve) => setTimeout(resolve, options.retryDelayMs ?? RETRY_DELAY_MS));
      r = await run(probe);
    }
    return observation(r);
  };
  return {
    connect: async (from, protocol, host, port, timeoutMs) => {
      const pod = execPod(from);
      if (host === INTERNET.ip) {
        const o = await tried(() => probes.publicIp(pod, seconds(timeoutMs) * 2));
        return { ...o, peer: o.addresses?.[0], addresses: undefined };
      }
      return tried(() =>
        protocol === "tcp"
          ? probes.http(pod, host, port, seconds(timeoutMs))
          : probes.udp(pod, host, port, seconds(timeoutMs)),
      );
    },
    ping: async (from, host, timeoutMs) => tried(() => probes.ping(execPod(from), host, seconds(timeoutMs))),
    resolve: async (from, name, timeoutMs) => tried(() => probes.dns(execPod(from), name, seconds(timeoutMs))),
  };
}
