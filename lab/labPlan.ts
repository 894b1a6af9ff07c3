// What the lab builds, as data: the namespaces, addresses, routes, conflists and pods,
// derived from the same planCluster() and renderConflistJson() the Pulumi stack uses. Nothing
// here touches the system, so the plan can be printed, saved in the state file and tested.
import { join } from "node:path";
import { CONFLIST_FILE, renderConflistJson } from "../cni/conflist";
import { broadcastOf, cidrContainsIp, formatIPv4, parseCidr } from "../cni/ipv4";
import { type NodePlan, planCluster, planProblems } from "../cni/plan";
import { NETWORK_DEFAULTS } from "../model/defaults";
import { clusterDnsIp } from "../model/dns";
import { DNS_PORT } from "../model/ports";

export const DEFAULT_PREFIX = "pnlab";
export const RUN_ROOT = "/run/podnet-lab";
export const PREFIX_PATTERN = /^[a-z][a-z0-9]{0,11}$/;
export const MIN_WORKERS = 2;
export const MAX_WORKERS = 16;

/** The "internet": TEST-NET-3 (RFC 5737), an address that is never routed anywhere real. */
export const INTERNET_IP = "203.0.113.1";
/** The router's address on the internet link, the lab's stand-in for the internet gateway. */
export const IGW_IP = "203.0.113.254";
export const INTERNET_PREFIX = 24;

/**
 * The admin address: TEST-NET-2 (RFC 5737), behind the router on a link of its own, the one
 * address in the lab's adminCidrs. The internet namespace is the non-admin address.
 */
export const ADMIN_IP = "198.51.100.7";
/** The router's address on the admin link. */
export const ADMIN_GW_IP = "198.51.100.254";
export const ADMIN_PREFIX = 24;
export const ADMIN_CIDRS: readonly string[] = [`${ADMIN_IP}/32`];

export interface LabService {
  readonly name: string;
  readonly namespace: string;
  readonly ip: string;
  readonly port: number;
  readonly protocol: "tcp" | "udp";
  /** The pod behind it (the lab's services have one endpoint each). */
  readonly endpoint: string;
  /** Its pod port. */
  readonly targetPort: number;
  /** Chain-name part: LAB-SVC-<tag>, LAB-SEP-<tag>. */
  readonly tag: string;
}

/** The web pods' UDP echo port (RFC 862's), behind the echo Service. */
export const ECHO_PORT = 7;

export const WEB_PORT = 80;
export const SHELL_PORT = 8080;
/** Nodes answer on the kubelet's port, so "pod to its gateway" is a real TCP connection. */
export const NODE_PORT = 10250;
export const INTERNET_PORT = 80;
/** hostPort of the web pods, wired by the conflist's second plugin (portmap). */
export const WEB_HOST_PORT = 8080;

export interface LabOptions {
  readonly prefix: string;
  readonly workers: number;
  /** Seconds per iperf3 run; 0 skips the throughput figures. */
  readonly iperfSeconds: number;
  readonly keep: boolean;
}

/** web: TCP server and UDP echo; shell: a client; dns: the stand-in for CoreDNS (one, on the first worker). */
export type PodKind = "web" | "shell" | "dns";

export interface LabPod {
  /** Kubernetes pod name, as in the seed labs' deploy.yaml: web-worker-1, shell-worker-1. */
  readonly name: string;
  readonly kind: PodKind;
  readonly node: string;
  /** Network namespace: <prefix>-<node>-<kind>. */
  readonly netns: string;
  readonly port: number;
  /** UDP ports its agent answers on (echo; DNS for the dns pod). */
  readonly udpPorts: readonly number[];
  /** hostPort -> containerPort mappings handed to portmap through runtimeConfig. */
  readonly portMappings: ReadonlyArray<{ hostPort: number; containerPort: number; protocol: "tcp" }>;
  /** The resolv.conf kubelet would write for it, which its workload's lookups use. */
  readonly resolvConf: string;
}

export interface LabNode {
  readonly plan: NodePlan;
  readonly name: string;
  readonly netns: string;
  /** The node's eth0 address in the VPC subnet (on AWS, the ENI's private IP). */
  readonly ip: string;
  /** The router's end of the node's link, in the router namespace. */
  readonly routerPort: string;
  readonly dir: string;
  readonly conflistPath: string;
  readonly conflistJson: string;
  readonly dataDir: string;
  readonly logFile: string;
}

export interface VpcRoute {
  /** The node's pod CIDR. */
  readonly destination: string;
  /** The node's IP: on AWS the target is the node's ENI, whose address this is. */
  readonly via: string;
  readonly node: string;
}

export interface LabPlan {
  readonly options: LabOptions;
  readonly runDir: string;
  readonly binDir: string;
  readonly cacheDir: string;
  readonly agentDir: string;
  readonly stateFile: string;
  readonly router: { readonly netns: string; readonly ip: string; readonly bridge: string; readonly igwPort: string };
  readonly internet: { readonly netns: string; readonly ip: string };
  /** The admin client outside the VPC, and the adminCidrs the node security group admits. */
  readonly admin: { readonly netns: string; readonly ip: string; readonly routerPort: string };
  readonly adminCidrs: readonly string[];
  readonly subnetCidr: string;
  readonly subnetPrefix: number;
  readonly vpcCidr: string;
  readonly clusterCidr: string;
  readonly nodes: readonly LabNode[];
  readonly workers: readonly LabNode[];
  readonly routes: readonly VpcRoute[];
  readonly pods: readonly LabPod[];
  /** The ClusterIP services made by hand as kube-proxy would: web (tcp), echo (udp), kube-dns (udp). */
  readonly services: readonly LabService[];
}

export function optionProblems(options: LabOptions): string[] {
  const problems: string[] = [];
  if (!PREFIX_PATTERN.test(options.prefix)) {
    problems.push(
      `--prefix "${options.prefix}": use 1 to 12 lower-case letters and digits, starting with a letter (e.g. ${DEFAULT_PREFIX})`,
    );
  }
  if (!Number.isInteger(options.workers) || options.workers < MIN_WORKERS || options.workers > MAX_WORKERS) {
    problems.push(
      `--workers ${options.workers}: use ${MIN_WORKERS} to ${MAX_WORKERS} (two are needed for the cross-node checks)`,
    );
  }
  if (!Number.isFinite(options.iperfSeconds) || options.iperfSeconds < 0 || options.iperfSeconds > 60) {
    problems.push(`--iperf-seconds ${options.iperfSeconds}: use 0 (skip) to 60`);
  }
  problems.push(
    ...planProblems({
      clusterCidr: NETWORK_DEFAULTS.clusterCidr,
      nodeMaskSize: NETWORK_DEFAULTS.nodeMaskSize,
      workerCount: options.workers,
    }),
  );
  return problems;
}

export function runDirOf(prefix: string): string {
  return join(RUN_ROOT, prefix);
}

/** Short router-port names: eni-cp, eni-w1, ... (interface names stop at 15 bytes). */
function routerPortOf(node: NodePlan): string {
  return node.role === "control-plane" ? "eni-cp" : `eni-w${node.index}`;
}

/** Node IPs: .10, .11, ... of the VPC subnet (AWS hands out addresses from .4 up; .1 is the VPC router). */
export function nodeIp(subnetCidr: string, index: number): string {
  const subnet = parseCidr(subnetCidr);
  const ip = subnet.network + 10 + index;
  if (!cidrContainsIp(subnet, ip) || ip === broadcastOf(subnet))
    throw new Error(`node ${index} does not fit in ${subnetCidr}`);
  return formatIPv4(ip);
}

/** The nodes planCluster() gives, each with its namespace, eth0 address and CNI files. */
function labNodes(prefix: string, runDir: string, workerCount: number): LabNode[] {
  const { clusterCidr, nodeMaskSize, subnetCidr } = NETWORK_DEFAULTS;
  return planCluster({ clusterCidr, nodeMaskSize, workerCount }).map((plan) => {
    const dir = join(runDir, "nodes", plan.name);
    const dataDir = join(dir, "ipam");
    const logFile = join(dir, "podnet.log");
    return {
      plan,
      name: plan.name,
      netns: `${prefix}-${plan.name}`,
      ip: nodeIp(subnetCidr, plan.index),
      routerPort: routerPortOf(plan),
      dir,
      conflistPath: join(dir, "net.d", CONFLIST_FILE),
      // The one difference from AWS: all lab nodes share this machine's file system, so
      // each gets its own IPAM store and log through the rendering function's options.
      conflistJson: renderConflistJson(plan, { clusterCidr, dataDir, logFile }),
      dataDir,
      logFile,
    };
  });
}

/** A web and a shell pod on every worker, and the stand-in for CoreDNS on the first. */
function labPods(runDir: string, workers: readonly LabNode[]): LabPod[] {
  const podOf = (node: LabNode, kind: PodKind, name: string, port: number, udpPorts: number[]): LabPod => ({
    name,
    kind,
    node: node.name,
    netns: `${node.netns}-${kind}`,
    port,
    udpPorts,
    portMappings: kind === "web" ? [{ hostPort: WEB_HOST_PORT, containerPort: WEB_PORT, protocol: "tcp" }] : [],
    resolvConf: join(runDir, "pods", name, "resolv.conf"),
  });
  return workers.flatMap((node) => [
    podOf(node, "web", `web-${node.name}`, WEB_PORT, [ECHO_PORT]),
    podOf(node, "shell", `shell-${node.name}`, SHELL_PORT, []),
    ...(node === workers[0] ? [podOf(node, "dns", `coredns-${node.name}`, DNS_PORT, [DNS_PORT])] : []),
  ]);
}

/** The ClusterIP services: web and echo in front of the first web pod, kube-dns in front of the dns pod. */
function labServices(pods: readonly LabPod[]): LabService[] {
  const web = pods[0].name;
  const dns = pods.find((p) => p.kind === "dns")?.name ?? web;
  return [
    {
      name: "web",
      namespace: "default",
      ip: "10.96.0.20",
      port: WEB_PORT,
      protocol: "tcp",
      endpoint: web,
      targetPort: WEB_PORT,
      tag: "WEB",
    },
    {
      name: "echo",
      namespace: "default",
      ip: "10.96.0.30",
      port: ECHO_PORT,
      protocol: "udp",
      endpoint: web,
      targetPort: ECHO_PORT,
      tag: "ECHO",
    },
    // kubeadm gives kube-dns the 10th address of the service CIDR.
    {
      name: "kube-dns",
      namespace: "kube-system",
      ip: clusterDnsIp(NETWORK_DEFAULTS.serviceCidr),
      port: DNS_PORT,
      protocol: "udp",
      endpoint: dns,
      targetPort: DNS_PORT,
      tag: "DNS",
    },
  ];
}

export function buildPlan(options: LabOptions): LabPlan {
  const problems = optionProblems(options);
  if (problems.length > 0) throw new Error(problems.join("\n"));
  const prefix = options.prefix;
  const runDir = runDirOf(prefix);
  const subnet = parseCidr(NETWORK_DEFAULTS.subnetCidr);
  const nodes = labNodes(prefix, runDir, options.workers);
  const workers = nodes.filter((n) => n.plan.role === "worker");
  const pods = labPods(runDir, workers);
  return {
    options,
    runDir,
    binDir: join(runDir, "bin"),
    cacheDir: join(runDir, "cache"),
    agentDir: join(runDir, "agents"),
    stateFile: join(runDir, "state.json"),
    router: { netns: `${prefix}-router`, ip: formatIPv4(subnet.network + 1), bridge: "vpc0", igwPort: "igw0" },
    internet: { netns: `${prefix}-internet`, ip: INTERNET_IP },
    admin: { netns: `${prefix}-admin`, ip: ADMIN_IP, routerPort: "adm0" },
    adminCidrs: ADMIN_CIDRS,
    subnetCidr: NETWORK_DEFAULTS.subnetCidr,
    subnetPrefix: subnet.prefix,
    vpcCidr: NETWORK_DEFAULTS.vpcCidr,
    clusterCidr: NETWORK_DEFAULTS.clusterCidr,
    nodes,
    workers,
    // Exactly what the stack puts in the VPC route table: one route per node, pod CIDR -> node.
    routes: nodes.map((n) => ({ destination: n.plan.podCidr, via: n.ip, node: n.name })),
    pods,
    services: labServices(pods),
  };
}

/** Every namespace the plan creates, pods first (the order teardown deletes them in). */
export function planNamespaces(plan: LabPlan): string[] {
  return [
    ...plan.pods.map((p) => p.netns),
    ...plan.nodes.map((n) => n.netns),
    plan.router.netns,
    plan.internet.netns,
    plan.admin.netns,
  ];
}

/** Names a lab with this prefix may have created, with any worker count: what `down` looks for. */
export function labNamespacePattern(prefix: string): RegExp {
  return new RegExp(`^${prefix}-(router|internet|admin|control-plane|worker-\\d+)(-(web|shell|dns))?$`);
}
