// The lab's pods, run the way kubelet and containerd run a pod sandbox on a node: a network
// namespace, CNI ADD of loopback and then of the node's conflist (the real plugin), the pod's
// resolv.conf, and an agent as its workload; deleting one undoes that in reverse.
import { randomBytes, randomUUID } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { NETWORK_DEFAULTS } from "../model/defaults";
import { clusterDnsIp, kubeletResolvConf, serviceFqdn } from "../model/dns";
import { type AgentHandle, startAgent, stopPids } from "./agents";
import { pathWithBun } from "./bun";
import type { LabPlan, LabPod } from "./labPlan";
import {
  type CniResult,
  CniRuntime,
  type NetworkList,
  parseNetworkList,
  RUNTIME_PATH,
  type RuntimeConf,
} from "./libcni";
import { mustSync, netnsPath } from "./sh";

/** The newest CNI version the lab's runtime speaks: Debian's reference plugins stop at 1.0.0. */
export const LAB_RUNTIME_MAX_VERSION = "1.0.0";
/** containerd's CRI plugin runs this list for every pod's lo before the pod network. */
const LOOPBACK_LIST: NetworkList = { cniVersion: "1.0.0", name: "cni-loopback", plugins: [{ type: "loopback" }] };

export interface PodReport {
  name: string;
  node: string;
  netns: string;
  containerId: string;
  ip: string;
  addMs: number;
}

/** A running pod: what the runtime sent CNI, the address it got, and its workload. */
export interface PodInstance {
  pod: LabPod;
  rt: RuntimeConf;
  ip: string;
  agent: AgentHandle;
  addMs: number;
}

/** A node's container runtime: its CNI runtime and the conflist it executes. */
export interface NodeCni {
  readonly runtime: CniRuntime;
  readonly list: NetworkList;
}

/** Each node's runtime, reading the conflist the lab wrote for it (as containerd reads net.d). */
export function nodeRuntimes(plan: LabPlan): Map<string, NodeCni> {
  const runtimes = new Map<string, NodeCni>();
  for (const node of plan.nodes) {
    const list = parseNetworkList(readFileSync(node.conflistPath, "utf8"), node.conflistPath);
    const runtime = new CniRuntime({
      binDirs: [plan.binDir],
      cacheDir: join(plan.cacheDir, node.name),
      runtimeNetns: node.netns,
      maxVersion: LAB_RUNTIME_MAX_VERSION,
      // The runtime's own PATH with the pinned Bun first, which dist/podnet's shebang finds.
      env: { PATH: pathWithBun(RUNTIME_PATH) },
      callLog: join(node.dir, "cni-calls.log"),
    });
    runtimes.set(node.name, { runtime, list });
  }
  return runtimes;
}

/** The pod's address from the ADD result: the IP on the interface inside CNI_NETNS. */
export function podAddress(result: CniResult, rt: RuntimeConf): string {
  const ifaces = result.interfaces ?? [];
  const index = ifaces.findIndex((i) => i.name === rt.ifname && i.sandbox === rt.netns);
  const ip = (result.ips ?? []).find((i) => i.interface === index) ?? (result.ips ?? [])[0];
  if (!ip) throw new Error(`ADD result has no IP: ${JSON.stringify(result)}`);
  return ip.address.split("/")[0];
}

/** What kubelet hands the runtime for a pod sandbox: CNI_ARGS, and portMappings when it has hostPorts. */
function runtimeConf(pod: LabPod): RuntimeConf {
  const containerId = randomBytes(32).toString("hex");
  return {
    containerId,
    netns: netnsPath(pod.netns),
    ifname: "eth0",
    args: [
      ["IgnoreUnknown", "1"],
      ["K8S_POD_NAMESPACE", "default"],
      ["K8S_POD_NAME", pod.name],
      ["K8S_POD_INFRA_CONTAINER_ID", containerId],
      ["K8S_POD_UID", randomUUID()],
    ],
    capabilityArgs: pod.portMappings.length > 0 ? { portMappings: pod.portMappings } : {},
  };
}

/** The pods running in the lab, by name. */
export class Pods {
  private readonly running = new Map<string, PodInstance>();

  constructor(
    private readonly plan: LabPlan,
    private readonly cni: ReadonlyMap<string, NodeCni>,
    private readonly agentJs: string,
    /** Throws when the run has been interrupted: called between steps. */
    private readonly guard: () => void,
  ) {}

  /** The running pod; throws when it is not running. */
  get(name: string): PodInstance {
    const pod = this.running.get(name);
    if (!pod) throw new Error(`pod ${name} is not running`);
    return pod;
  }

  find(name: string): PodInstance | undefined {
    return this.running.get(name);
  }

  /** The running pods, in the plan's order. */
  all(): PodInstance[] {
    return this.plan.pods.flatMap((p) => this.running.get(p.name) ?? []);
  }

  /** Pod name -> IP of every running pod. */
  ips(): Map<string, string> {
    return new Map([...this.running.values()].map((p) => [p.pod.name, p.ip]));
  }

  agents(): AgentHandle[] {
    return [...this.running.values()].map((p) => p.agent);
  }

  /** Creates every pod: per node one after another (as the seed labs' IPs .2, .3 expect), nodes in parallel. */
  async addAll(): Promise<PodReport[]> {
    const byNode = this.plan.workers.map(async (node) => {
      const reports: PodReport[] = [];
      for (const pod of this.plan.pods.filter((p) => p.node === node.name)) {
        this.guard();
        reports.push(await this.add(pod));
      }
      return reports;
    });
    return (await Promise.all(byNode)).flat();
  }

  /** What kubelet + containerd do for a pod sandbox: a netns, loopback, the pod network, the workload. */
  async add(pod: LabPod): Promise<PodReport> {
    this.guard();
    mustSync(["ip", "netns", "add", pod.netns]);
    const rt = runtimeConf(pod);
    const { runtime, list } = this.nodeCni(pod.node);
    const started = Date.now();
    await runtime.add(LOOPBACK_LIST, { ...rt, ifname: "lo" });
    const result = await runtime.add(list, rt);
    const addMs = Date.now() - started;
    const ip = podAddress(result, rt);
    this.guard();
    const agent = await this.startWorkload(pod);
    this.running.set(pod.name, { pod, rt, ip, agent, addMs });
    return { name: pod.name, node: pod.node, netns: pod.netns, containerId: rt.containerId, ip, addMs };
  }

  /** What deleting a pod does: stop the workload, DEL the pod network (plugins in reverse), drop the netns. */
  async delete(name: string): Promise<void> {
    const inst = this.get(name);
    await stopPids([inst.agent.pid]);
    const { runtime, list } = this.nodeCni(inst.pod.node);
    await runtime.del(list, inst.rt);
    await runtime.del(LOOPBACK_LIST, { ...inst.rt, ifname: "lo" });
    mustSync(["ip", "netns", "del", inst.pod.netns]);
    this.running.delete(name);
  }

  /** CNI CHECK through the pod's conflist. */
  async check(inst: PodInstance): Promise<void> {
    const { runtime, list } = this.nodeCni(inst.pod.node);
    await runtime.check(list, inst.rt);
  }

  nodeCni(node: string): NodeCni {
    const cni = this.cni.get(node);
    if (!cni) throw new Error(`no runtime for ${node}`);
    return cni;
  }

  /** The pod's resolv.conf as kubelet writes it, then its workload (the dns pod serves every service's name). */
  private async startWorkload(pod: LabPod): Promise<AgentHandle> {
    // ClusterFirst: the kube-dns Service, the namespace's search path.
    mkdirSync(dirname(pod.resolvConf), { recursive: true });
    writeFileSync(pod.resolvConf, kubeletResolvConf(clusterDnsIp(NETWORK_DEFAULTS.serviceCidr), "default"));
    const records = new Map(this.plan.services.map((s) => [serviceFqdn(s.name, s.namespace), s.ip]));
    return startAgent({
      agentJs: this.agentJs,
      dir: this.plan.agentDir,
      name: pod.name,
      netns: pod.netns,
      ports: [pod.port],
      udpPorts: pod.kind === "dns" ? [] : pod.udpPorts,
      dns: pod.kind === "dns" ? { port: pod.udpPorts[0], records } : undefined,
      resolvConf: pod.resolvConf,
    });
  }
}
