// What the lab builds, as data: the namespaces, addresses, routes, conflists and pods,
// derived from the same planCluster() and renderConflist() the Pulumi stack uses. Nothing
// here touches the system, so the plan can be printed, saved in the state file and tested.
import { join } from "node:path";
import { CONFLIST_FILE, renderConflistJson } from "../cni/conflist";
import { broadcastOf, cidrContainsIp, formatIPv4, parseCidr } from "../cni/ipv4";
import { NodePlan, planCluster, planProblems } from "../cni/plan";

/** The stack's defaults (components/config.ts): the lab reproduces that cluster. */
export const STACK_DEFAULTS = {
  vpcCidr: "10.0.0.0/16",
  subnetCidr: "10.0.1.0/24",
  clusterCidr: "10.244.0.0/16",
  nodeMaskSize: 24,
  serviceCidr: "10.96.0.0/12",
} as const;

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

/** The ClusterIP service the lab builds by hand, as 003 does: 10.96.0.10:80 -> web-worker-1:80. */
export const SERVICE = { name: "web", namespace: "default", ip: "10.96.0.10", port: 80 } as const;

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

export type PodKind = "web" | "shell";

export interface LabPod {
  /** Kubernetes pod name, as in the labs' deploy.yaml: web-worker-1, shell-worker-1. */
  readonly name: string;
  readonly kind: PodKind;
  readonly node: string;
  /** Network namespace: <prefix>-<node>-<kind>. */
  readonly netns: string;
  readonly port: number;
  /** hostPort -> containerPort mappings handed to portmap through runtimeConfig. */
  readonly portMappings: ReadonlyArray<{ hostPort: number; containerPort: number; protocol: "tcp" }>;
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
  readonly subnetCidr: string;
  readonly subnetPrefix: number;
  readonly vpcCidr: string;
  readonly clusterCidr: string;
  readonly nodes: readonly LabNode[];
  readonly workers: readonly LabNode[];
  readonly routes: readonly VpcRoute[];
  readonly pods: readonly LabPod[];
}

export function optionProblems(options: LabOptions): string[] {
  const problems: string[] = [];
  if (!PREFIX_PATTERN.test(options.prefix)) {
    problems.push(`--prefix "${options.prefix}": use 1 to 12 lower-case letters and digits, starting with a letter (e.g. ${DEFAULT_PREFIX})`);
  }
  if (!Number.isInteger(options.workers) || options.workers < MIN_WORKERS || options.workers > MAX_WORKERS) {
    problems.push(`--workers ${options.workers}: use ${MIN_WORKERS} to ${MAX_WORKERS} (two are needed for the cross-node checks)`);
  }
  if (!Number.isFinite(options.iperfSeconds) || options.iperfSeconds < 0 || options.iperfSeconds > 60) {
    problems.push(`--iperf-seconds ${options.iperfSeconds}: use 0 (skip) to 60`);
  }
  problems.push(
    ...planProblems({ clusterCidr: STACK_DEFAULTS.clusterCidr, nodeMaskSize: STACK_DEFAULTS.nodeMaskSize, workerCount: options.workers }),
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
  if (!cidrContainsIp(subnet, ip) || ip === broadcastOf(subnet)) throw new Error(`node ${index} does not fit in ${subnetCidr}`);
  return formatIPv4(ip);
}

export function buildPlan(options: LabOptions): LabPlan {
  const problems = optionProblems(options);
  if (problems.length > 0) throw new Error(problems.join("\n"));
  const prefix = options.prefix;
  const runDir = runDirOf(prefix);
  const subnet = parseCidr(STACK_DEFAULTS.subnetCidr);
  const routerIp = formatIPv4(subnet.network + 1);
  const nodePlans = planCluster({
    clusterCidr: STACK_DEFAULTS.clusterCidr,
    nodeMaskSize: STACK_DEFAULTS.nodeMaskSize,
    workerCount: options.workers,
  });
  const nodes: LabNode[] = nodePlans.map((plan) => {
    const dir = join(runDir, "nodes", plan.name);
    const dataDir = join(dir, "ipam");
    const logFile = join(dir, "podnet.log");
    return {
      plan,
      name: plan.name,
      netns: `${prefix}-${plan.name}`,
      ip: nodeIp(STACK_DEFAULTS.subnetCidr, plan.index),
      routerPort: routerPortOf(plan),
      dir,
      conflistPath: join(dir, "net.d", CONFLIST_FILE),
      // The one difference from AWS: all lab nodes share this machine's file system, so
      // each gets its own IPAM store and log through the rendering function's options.
      conflistJson: renderConflistJson(plan, { clusterCidr: STACK_DEFAULTS.clusterCidr, dataDir, logFile }),
      dataDir,
      logFile,
    };
  });
  const workers = nodes.filter((n) => n.plan.role === "worker");
  const pods: LabPod[] = workers.flatMap((node) => [
    {
      name: `web-${node.name}`,
      kind: "web" as const,
      node: node.name,
      netns: `${node.netns}-web`,
      port: WEB_PORT,
      portMappings: [{ hostPort: WEB_HOST_PORT, containerPort: WEB_PORT, protocol: "tcp" as const }],
    },
    { name: `shell-${node.name}`, kind: "shell" as const, node: node.name, netns: `${node.netns}-shell`, port: SHELL_PORT, portMappings: [] },
  ]);
  return {
    options,
    runDir,
    binDir: join(runDir, "bin"),
    cacheDir: join(runDir, "cache"),
    agentDir: join(runDir, "agents"),
    stateFile: join(runDir, "state.json"),
    router: { netns: `${prefix}-router`, ip: routerIp, bridge: "vpc0", igwPort: "igw0" },
    internet: { netns: `${prefix}-internet`, ip: INTERNET_IP },
    subnetCidr: STACK_DEFAULTS.subnetCidr,
    subnetPrefix: subnet.prefix,
    vpcCidr: STACK_DEFAULTS.vpcCidr,
    clusterCidr: STACK_DEFAULTS.clusterCidr,
    nodes,
    workers,
    // Exactly what the stack puts in the VPC route table: one route per node, pod CIDR -> node.
    routes: nodes.map((n) => ({ destination: n.plan.podCidr, via: n.ip, node: n.name })),
    pods,
  };
}

/** Every namespace the plan creates, pods first (the order teardown deletes them in). */
export function planNamespaces(plan: LabPlan): string[] {
  return [...plan.pods.map((p) => p.netns), ...plan.nodes.map((n) => n.netns), plan.router.netns, plan.internet.netns];
}

/** Names a lab with this prefix may have created, with any worker count: what `down` looks for. */
export function labNamespacePattern(prefix: string): RegExp {
  return new RegExp(`^${prefix}-(router|internet|control-plane|worker-\\d+)(-(web|shell))?$`);
}
