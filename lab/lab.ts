// The lab: brings the cluster's network up in namespaces, runs the real plugin through
// the conflists the stack writes, proves the seed labs' checks, measures throughput.
import { randomBytes, randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { cidrContainsIp, parseCidr, parseIPv4 } from "../cni/ipv4";
import { Actor, Perturbation } from "../model/checks";
import { CHECK_TABLE, LIFECYCLE_ROWS } from "../model/checkTable";
import { NETWORK_DEFAULTS } from "../model/defaults";
import { clusterDnsIp, kubeletResolvConf, serviceFqdn } from "../model/dns";
import { API_SERVER_PORT, SSH_PORT } from "../model/ports";
import { POD_CIDR_RULE, nodeSecurityGroup, withoutRule } from "../model/securityGroups";
import { runTable } from "../model/runChecks";
import { AgentHandle, bundleAgent, startAgent, stopPids } from "./agents";
import type { CheckRow } from "../model/checks";
import { LabDriver, labTopology } from "./driver";
import { pathWithBun } from "./bun";
import { CniCallError, CniResult, CniRuntime, NetworkList, RUNTIME_PATH, RuntimeConf, parseNetworkList } from "./libcni";
import { runIperf } from "./iperf";
import {
  INTERNET_PORT,
  LabNode,
  LabOptions,
  LabPlan,
  LabPod,
  NODE_PORT,
  VpcRoute,
  buildPlan,
  planNamespaces,
} from "./labPlan";
import { SG_IN_CHAIN, applySecurityGroup } from "./securityGroup";
import { installServices, setHairpinMasq } from "./service";
import { mustSync, netnsPath, runSync } from "./sh";
import { LabState, labNamespaces, liveController, readState, teardown, writeState } from "./state";
import { buildAdmin, buildInternet, buildNodes, buildRouter, createNamespaces, installCniBin, installVpcRoutes, writeConflists } from "./topology";

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

export interface Throughput {
  seconds: number;
  podToPod: { from: string; to: string; gbps: number; retransmits: number };
  nodeToNode: { from: string; to: string; gbps: number; retransmits: number };
}

export interface LabReport {
  ok: boolean;
  prefix: string;
  workers: number;
  routes: VpcRoute[];
  pods: PodReport[];
  readdedPods: PodReport[];
  checks: CheckRow[];
  throughput?: Throughput;
  timings: Record<string, number>;
  kept: boolean;
  error?: string;
}

export interface Output {
  line(text: string): void;
}

/** Another live lab holds the prefix: nothing of ours to clean up, and nothing of its to touch. */
export class LabBusy extends Error {}

export class Aborted extends Error {
  constructor(readonly signal: string) {
    super(`interrupted by ${signal}`);
  }
}

type Row = Omit<CheckRow, "phase">;

interface PodInstance {
  pod: LabPod;
  rt: RuntimeConf;
  ip: string;
  agent: AgentHandle;
  addMs: number;
}

/** The bundled plugin `npm run build` makes. */
export function bundlePath(): string {
  return join(__dirname, "..", "dist", "podnet");
}

export function preflight(options: LabOptions): string[] {
  const problems: string[] = [];
  if (process.getuid?.() !== 0) problems.push("the lab creates network namespaces: run it as root (in a root shell, or sudo npm run lab)");
  const tools: Array<[string, string]> = [
    ["ip", "iproute2"],
    ["nsenter", "util-linux"],
    ["iptables", "iptables"],
    ["iptables-restore", "iptables"],
    ["ping", "iputils-ping"],
    ["ss", "iproute2"],
    // a pod's resolv.conf in its own mount namespace, and lookups through the pod's libc
    ["unshare", "util-linux"],
    ["mount", "mount"],
    ["getent", "libc-bin"],
  ];
  if (options.iperfSeconds > 0) tools.push(["iperf3", "iperf3"]);
  for (const [tool, pkg] of tools) {
    if (runSync(["sh", "-c", `command -v ${tool}`]).status !== 0) problems.push(`${tool} is missing: apt-get install ${pkg} (scripts/setup.sh does)`);
  }
  for (const plugin of ["portmap", "loopback"]) {
    if (!existsSync(`/usr/lib/cni/${plugin}`)) problems.push(`/usr/lib/cni/${plugin} is missing: apt-get install containernetworking-plugins`);
  }
  const bundle = bundlePath();
  if (!existsSync(bundle)) {
    problems.push(`${bundle} is missing: run npm run build (npm run lab does)`);
  } else {
    const cniDir = join(__dirname, "..", "cni");
    const newest = readdirSync(cniDir)
      .filter((f) => f.endsWith(".ts"))
      .reduce((m, f) => Math.max(m, statSync(join(cniDir, f)).mtimeMs), 0);
    if (newest > statSync(bundle).mtimeMs) problems.push(`${bundle} is older than cni/*.ts: run npm run build (npm run lab does)`);
  }
  return problems;
}

export class Lab {
  readonly plan: LabPlan;
  private readonly started = Date.now();
  private aborted: string | undefined;
  private state: LabState;
  private readonly runtimes = new Map<string, CniRuntime>();
  private readonly lists = new Map<string, NetworkList>();
  private readonly pods = new Map<string, PodInstance>();
  private readonly nodeAgents = new Map<string, AgentHandle>();
  private internetAgent: AgentHandle | undefined;
  private adminAgent: AgentHandle | undefined;
  private agentJs = "";
  readonly rows: CheckRow[] = [];
  readonly report: LabReport;

  constructor(
    options: LabOptions,
    private readonly out: Output,
  ) {
    this.plan = buildPlan(options);
    this.state = {
      prefix: options.prefix,
      controllerPid: process.pid,
      startedAt: new Date().toISOString(),
      keep: options.keep,
      workers: options.workers,
      namespaces: planNamespaces(this.plan),
      pids: [],
    };
    this.report = {
      ok: false,
      prefix: options.prefix,
      workers: options.workers,
      routes: [...this.plan.routes],
      pods: [],
      readdedPods: [],
      checks: this.rows,
      timings: {},
      kept: options.keep,
    };
  }

  abort(signal: string): void {
    this.aborted = signal;
  }

  private say(text: string): void {
    const t = ((Date.now() - this.started) / 1000).toFixed(2).padStart(6);
    this.out.line(`[${t}s] ${text}`);
  }

  private guard(): void {
    if (this.aborted) throw new Aborted(this.aborted);
  }

  private mark(name: string, since: number): void {
    this.report.timings[name] = Date.now() - since;
  }

  private node(name: string): LabNode {
    const node = this.plan.nodes.find((n) => n.name === name);
    if (!node) throw new Error(`no node ${name}`);
    return node;
  }

  private pod(name: string): PodInstance {
    const pod = this.pods.get(name);
    if (!pod) throw new Error(`pod ${name} is not running`);
    return pod;
  }

  /** Everything up to running pods. */
  async up(): Promise<void> {
    const t0 = Date.now();
    const { plan } = this;
    const prefix = plan.options.prefix;
    const previous = readState(prefix);
    const live = liveController(previous);
    if (live !== undefined) {
      throw new LabBusy(`a lab with prefix ${prefix} is running right now (pid ${live}); wait for it, stop it, or use --prefix`);
    }
    if (previous || labNamespaces(prefix).length > 0) {
      this.say(`found a lab left over with prefix ${prefix}${previous?.keep ? " (kept with --keep)" : ""}: tearing it down first`);
      const removed = await teardown(prefix);
      this.say(`  removed ${removed.namespaces.length} namespaces, stopped ${removed.processes} processes${removed.problems.length ? `; problems: ${removed.problems.join("; ")}` : ""}`);
    }
    this.guard();
    writeState(this.state);

    this.say(`namespaces: router, internet, admin, ${plan.nodes.length} nodes (${plan.nodes.map((n) => n.name).join(", ")}) with prefix ${prefix}-`);
    createNamespaces([plan.router.netns, plan.internet.netns, plan.admin.netns, ...plan.nodes.map((n) => n.netns)]);
    buildRouter(plan);
    buildNodes(plan);
    buildInternet(plan);
    buildAdmin(plan);
    applySecurityGroup(plan, this.securityGroup());
    this.guard();
    this.say(`VPC subnet ${plan.subnetCidr} on bridge ${plan.router.bridge} in ${plan.router.netns} (router ${plan.router.ip}); internet ${plan.internet.ip} and admin ${plan.admin.ip} behind it`);
    this.say(`node security group on every eth0 (model/securityGroups.ts, adminCidrs ${plan.adminCidrs.join(", ")}): ${this.securityGroup().ingress.map((r) => r.name).join(", ")}`);
    for (const n of plan.nodes) this.say(`  node ${n.name.padEnd(14)} ${n.netns.padEnd(22)} eth0 ${n.ip}  pod CIDR ${n.plan.podCidr}  gateway ${n.plan.gateway}`);
    installVpcRoutes(plan);
    this.say(`VPC route table (planCluster, the routes the stack creates; target = the node's ENI, here its IP):`);
    for (const r of plan.routes) this.say(`  ${r.destination.padEnd(16)} -> ${r.via.padEnd(11)} (${r.node})`);

    installCniBin(plan, bundlePath());
    writeConflists(plan);
    for (const node of plan.nodes) {
      const list = parseNetworkList(readFileSync(node.conflistPath, "utf8"), node.conflistPath);
      this.lists.set(node.name, list);
      this.runtimes.set(
        node.name,
        new CniRuntime({
          binDirs: [plan.binDir],
          cacheDir: join(plan.cacheDir, node.name),
          runtimeNetns: node.netns,
          maxVersion: LAB_RUNTIME_MAX_VERSION,
          // The runtime's own PATH with the pinned Bun first, which dist/podnet's shebang finds.
          env: { PATH: pathWithBun(RUNTIME_PATH) },
          callLog: join(node.dir, "cni-calls.log"),
        }),
      );
    }
    const first = plan.nodes[0];
    const versions = await this.runtime(first.name).validate(this.list(first.name));
    this.say(
      `CNI: ${plan.binDir}/podnet (dist/podnet, 0755) + ${versions.length - 1} chained; conflists ${plan.runDir}/nodes/<node>/net.d/ ` +
        `(cniVersion ${this.list(first.name).cniVersion}; VERSION ok: ${versions.map((v) => `${v.plugin} [${v.supported.join(",")}]`).join(" ")})`,
    );
    this.guard();

    this.agentJs = bundleAgent(plan.runDir);
    // The control plane also answers where sshd and kube-apiserver would, for the security group's admin rows.
    const agentStarts = plan.nodes.map(async (node) => {
      const ports = node.plan.role === "control-plane" ? [NODE_PORT, SSH_PORT, API_SERVER_PORT] : [NODE_PORT];
      const agent = await startAgent({ agentJs: this.agentJs, dir: plan.agentDir, name: node.name, netns: node.netns, ports });
      this.nodeAgents.set(node.name, agent);
      return agent;
    });
    const internetStart = startAgent({ agentJs: this.agentJs, dir: plan.agentDir, name: "internet", netns: plan.internet.netns, ports: [INTERNET_PORT] });
    const adminStart = startAgent({ agentJs: this.agentJs, dir: plan.agentDir, name: "admin", netns: plan.admin.netns, ports: [] });
    const started = await Promise.all([...agentStarts, internetStart, adminStart]);
    this.internetAgent = started[started.length - 2];
    this.adminAgent = started[started.length - 1];
    this.recordPids();
    this.say(`servers: :${NODE_PORT} on every node (and :${SSH_PORT}, :${API_SERVER_PORT} on ${plan.nodes[0].name}), :${INTERNET_PORT} on ${plan.internet.ip}; admin client ${plan.admin.ip}`);
    this.guard();

    const pods = await this.addAllPods();
    this.report.pods = pods;
    for (const p of pods) this.say(`  pod ${p.name.padEnd(16)} ${p.node.padEnd(10)} ${p.ip.padEnd(12)} netns ${p.netns}  (CNI ADD ${p.addMs} ms)`);
    installServices(plan, this.podIps());
    for (const s of plan.services) this.say(`service ${`${s.namespace}/${s.name}`.padEnd(20)} ${s.ip}:${s.port}/${s.protocol} -> ${s.endpoint}:${s.targetPort} (nat LAB-SERVICES on every node)`);
    this.mark("upMs", t0);
  }

  private runtime(node: string): CniRuntime {
    const r = this.runtimes.get(node);
    if (!r) throw new Error(`no runtime for ${node}`);
    return r;
  }

  private list(node: string): NetworkList {
    const l = this.lists.get(node);
    if (!l) throw new Error(`no conflist for ${node}`);
    return l;
  }

  /** The node security group the stack creates, with the lab's adminCidrs. */
  private securityGroup() {
    return nodeSecurityGroup({ adminCidrs: this.plan.adminCidrs, clusterCidr: this.plan.clusterCidr });
  }

  private podIps(): Map<string, string> {
    return new Map([...this.pods.values()].map((p) => [p.pod.name, p.ip]));
  }

  /** The records the stand-in for CoreDNS serves: every service's name. */
  private dnsRecords(): Map<string, string> {
    return new Map(this.plan.services.map((s) => [serviceFqdn(s.name, s.namespace), s.ip]));
  }

  private recordPids(): void {
    const outside = [this.internetAgent, this.adminAgent].filter((a): a is AgentHandle => a !== undefined);
    this.state.pids = [...this.nodeAgents.values(), ...outside, ...[...this.pods.values()].map((p) => p.agent)].map((a) => a.pid);
    this.save();
  }

  /** The state file, while the run has not been interrupted (teardown owns it then). */
  private save(): void {
    if (!this.aborted) writeState(this.state);
  }

  /** Creates every pod: per node one after another (as the labs' IPs .2, .3 expect), nodes in parallel. */
  private async addAllPods(): Promise<PodReport[]> {
    const byNode = this.plan.workers.map(async (node) => {
      const reports: PodReport[] = [];
      for (const pod of this.plan.pods.filter((p) => p.node === node.name)) {
        this.guard();
        reports.push(await this.addPod(pod));
      }
      return reports;
    });
    const reports = (await Promise.all(byNode)).flat();
    this.recordPids();
    return reports;
  }

  /** What kubelet + containerd do for a pod sandbox: a netns, loopback, the pod network, the workload. */
  private async addPod(pod: LabPod): Promise<PodReport> {
    this.guard();
    mustSync(["ip", "netns", "add", pod.netns]);
    const containerId = randomBytes(32).toString("hex");
    const rt: RuntimeConf = {
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
    const runtime = this.runtime(pod.node);
    const started = Date.now();
    await runtime.add(LOOPBACK_LIST, { ...rt, ifname: "lo" });
    const result = await runtime.add(this.list(pod.node), rt);
    const addMs = Date.now() - started;
    const ip = podAddress(result, rt);
    this.guard();
    // kubelet writes the pod's resolv.conf (ClusterFirst: the kube-dns Service, the namespace's search path).
    mkdirSync(dirname(pod.resolvConf), { recursive: true });
    writeFileSync(pod.resolvConf, kubeletResolvConf(clusterDnsIp(NETWORK_DEFAULTS.serviceCidr), "default"));
    const agent = await startAgent({
      agentJs: this.agentJs,
      dir: this.plan.agentDir,
      name: pod.name,
      netns: pod.netns,
      ports: [pod.port],
      udpPorts: pod.kind === "dns" ? [] : pod.udpPorts,
      dns: pod.kind === "dns" ? { port: pod.udpPorts[0], records: this.dnsRecords() } : undefined,
      resolvConf: pod.resolvConf,
    });
    this.pods.set(pod.name, { pod, rt, ip, agent, addMs });
    return { name: pod.name, node: pod.node, netns: pod.netns, containerId, ip, addMs };
  }

  /** What deleting a pod does: stop the workload, DEL the pod network (plugins in reverse), drop the netns. */
  private async deletePod(name: string): Promise<void> {
    const inst = this.pod(name);
    await stopPids([inst.agent.pid]);
    const runtime = this.runtime(inst.pod.node);
    await runtime.del(this.list(inst.pod.node), inst.rt);
    await runtime.del(LOOPBACK_LIST, { ...inst.rt, ifname: "lo" });
    mustSync(["ip", "netns", "del", inst.pod.netns]);
    this.pods.delete(name);
  }

  private add(row: Row, phase: string): void {
    this.rows.push({ phase, ...row });
  }

  /** The agent acting for an actor of the table. */
  private agentOf(actor: Actor): AgentHandle {
    if (actor.kind === "pod") return this.pod(actor.name).agent;
    const agent = actor.kind === "node" ? this.nodeAgents.get(actor.name) : actor.name === "internet" ? this.internetAgent : this.adminAgent;
    if (!agent) throw new Error(`no agent for ${actor.kind} ${actor.name}`);
    return agent;
  }

  /** The negative controls' changes, each with its undo. */
  private async perturb(change: Perturbation): Promise<() => Promise<void>> {
    const { plan } = this;
    if (change === "hairpin-masq-off") {
      const web = plan.services[0];
      setHairpinMasq(plan, web, this.podIps(), false);
      return async () => setHairpinMasq(plan, web, this.podIps(), true);
    }
    applySecurityGroup(plan, withoutRule(this.securityGroup(), POD_CIDR_RULE));
    return async () => applySecurityGroup(plan, this.securityGroup());
  }

  /** Every runnable row of the table (model/checkTable.ts) through the lab's driver. */
  async connectivity(phase: string): Promise<void> {
    this.guard();
    const driver = new LabDriver({ agent: (a) => this.agentOf(a), perturb: (c) => this.perturb(c) });
    const rows = await runTable(CHECK_TABLE, driver, labTopology(this.plan, this.podIps()), { phase, first: phase === "initial", guard: () => this.guard() });
    this.rows.push(...rows);
  }

  /**
   * CNI CHECK through the conflist for every pod (podnet, then portmap), as libcni runs it.
   * One upstream defect is named rather than hidden: Debian's portmap 1.1.1 fails CHECK
   * for any pod that has port mappings and no IPv6 address, because it also looks for
   * ip6tables rules it never made (containernetworking/plugins#819, fixed upstream after
   * 1.1.1). Libcni runs portmap after podnet, so when that is the error podnet's CHECK has
   * already passed, and the hostPort rows show portmap's IPv4 rules at work.
   */
  async cniCheck(phase: string): Promise<void> {
    this.guard();
    const order = this.plan.pods.filter((p) => this.pods.has(p.name)).map((p) => this.pod(p.name));
    const rows = await Promise.all(
      order.map(async (inst): Promise<Row> => {
        const started = Date.now();
        let seen = "ok";
        let ok = true;
        try {
          await this.runtime(inst.pod.node).check(this.list(inst.pod.node), inst.rt);
          seen = `ok (${this.list(inst.pod.node).plugins.map((p) => p.type).join(", ")})`;
        } catch (e) {
          ok = false;
          seen = (e as Error).message;
          if (isPortmapIpv6CheckBug(e, inst.ip)) {
            ok = true;
            seen = "podnet ok; portmap 1.1.1: known IPv6 CHECK bug (plugins#819)";
          }
        }
        return { group: LIFECYCLE_ROWS.cniCheck, from: inst.pod.node, to: inst.pod.name, expect: "ok", seen, ok, ms: Date.now() - started };
      }),
    );
    for (const row of rows) this.add(row, phase);
  }

  /** Deletes every pod through the conflist, proves nothing is left, adds them again. */
  async deleteAndReadd(): Promise<void> {
    this.guard();
    const t0 = Date.now();
    const phase = "delete and re-add";
    const before = new Map([...this.pods.values()].map((p) => [p.pod.name, p.ip]));
    const order = [...this.plan.pods].reverse();
    const started = Date.now();
    let delError = "";
    for (const pod of order) {
      try {
        await this.deletePod(pod.name);
      } catch (e) {
        delError = `${pod.name}: ${(e as Error).message}`;
        break;
      }
    }
    this.add(
      { group: LIFECYCLE_ROWS.del, from: "runtime", to: `${order.length} pods`, expect: "ok", seen: delError || "ok", ok: !delError, ms: Date.now() - started },
      phase,
    );
    if (delError) throw new Error(`DEL failed: ${delError}`);
    for (const node of this.plan.workers) {
      const held = reservations(node.dataDir);
      this.add(
        { group: LIFECYCLE_ROWS.ipamEmpty, from: node.name, to: node.dataDir.replace(this.plan.runDir, "<run>"), expect: "0 reservations", seen: held.length ? held.join(", ") : "0 reservations", ok: held.length === 0, ms: 0 },
        phase,
      );
      const veths = podnetVeths(node);
      this.add(
        { group: LIFECYCLE_ROWS.noVeth, from: node.name, to: "cni0", expect: "none", seen: veths.length ? veths.join(", ") : "none", ok: veths.length === 0, ms: 0 },
        phase,
      );
    }
    this.guard();
    const readded = await this.addAllPods();
    this.report.readdedPods = readded;
    for (const r of readded) {
      const node = this.node(r.node);
      const held = reservations(node.dataDir);
      const subnetOk = inCidr(r.ip, node.plan.podCidr) && r.ip !== node.plan.gateway;
      const unique = readded.filter((o) => o.ip === r.ip).length === 1;
      const ok = subnetOk && unique && held.length === this.plan.pods.filter((p) => p.node === r.node).length && held.includes(r.ip);
      this.add(
        {
          group: LIFECYCLE_ROWS.readd,
          from: r.node,
          to: r.name,
          expect: `new IP in ${node.plan.podCidr}, reserved once`,
          seen: `${before.get(r.name)} -> ${r.ip} (node holds ${held.join(", ")})`,
          ok,
          ms: r.addMs,
        },
        phase,
      );
    }
    installServices(this.plan, this.podIps());
    this.mark("readdMs", t0);
  }

  async throughput(): Promise<void> {
    const seconds = this.plan.options.iperfSeconds;
    if (seconds <= 0) return;
    this.guard();
    const t0 = Date.now();
    const [w1, w2] = this.plan.workers;
    const client = this.pod(`shell-${w1.name}`);
    const server = this.pod(`shell-${w2.name}`);
    this.say(`iperf3: ${seconds} s TCP, pod -> pod across nodes (${client.pod.name} -> ${server.pod.name} ${server.ip})`);
    const pods = await runIperf({ serverNetns: server.pod.netns, clientNetns: client.pod.netns, host: server.ip, seconds, onPid: (pid) => this.notePid(pid) });
    this.guard();
    this.say(`iperf3: ${seconds} s TCP, node -> node (${w1.name} -> ${w2.name} ${w2.ip})`);
    const nodes = await runIperf({ serverNetns: w2.netns, clientNetns: w1.netns, host: w2.ip, seconds, onPid: (pid) => this.notePid(pid) });
    this.report.throughput = {
      seconds,
      podToPod: { from: client.pod.name, to: server.pod.name, gbps: pods.gbps, retransmits: pods.retransmits },
      nodeToNode: { from: w1.name, to: w2.name, gbps: nodes.gbps, retransmits: nodes.retransmits },
    };
    this.mark("iperfMs", t0);
  }

  private notePid(pid: number): void {
    this.state.pids.push(pid);
    this.save();
  }

  async runChecks(): Promise<void> {
    const t0 = Date.now();
    this.say("checks: the table (connectivity, services, DNS, security group), CNI CHECK");
    await this.connectivity("initial");
    await this.cniCheck("initial");
    this.mark("checksMs", t0);
    this.say("delete every pod through the conflist, then add them again");
    await this.deleteAndReadd();
    for (const r of this.report.readdedPods) this.say(`  pod ${r.name.padEnd(16)} ${r.node.padEnd(10)} ${r.ip.padEnd(12)} (CNI ADD ${r.addMs} ms)`);
    const t1 = Date.now();
    await this.connectivity("after re-add");
    await this.cniCheck("after re-add");
    this.mark("recheckMs", t1);
  }

  /** Commands to poke around a kept lab. */
  pokeHelp(): string {
    const { plan } = this;
    const p = plan.options.prefix;
    const [w1, w2] = plan.workers;
    const shell1 = this.pods.get(`shell-${w1.name}`);
    const web2 = this.pods.get(`web-${w2.name}`);
    const down = `npm run lab -- down${p === "pnlab" ? "" : ` --prefix ${p}`}`;
    return [
      `The lab is up (--keep). Namespaces: ip netns list | grep ^${p}-`,
      `  ip netns exec ${p}-router ip route                      # the VPC route table`,
      `  ip netns exec ${w1.netns} ip addr show cni0             # the bridge podnet made`,
      `  ip netns exec ${w1.netns} iptables-save | grep -E 'PODNET|LAB-'`,
      `  ip netns exec ${w1.netns}-shell ip addr show eth0`,
      `  ip netns exec ${w1.netns}-shell ping -c 2 ${web2?.ip ?? "<web-worker-2 IP>"}`,
      `  ip netns exec ${w1.netns}-shell bash -c 'cat </dev/tcp/${web2?.ip ?? "<ip>"}/80'     # the server prints the source it saw`,
      `  ip netns exec ${w1.netns}-shell bash -c 'cat </dev/tcp/${plan.internet.ip}/80'   # arrives as ${w1.ip}`,
      `  ip netns exec ${w1.netns}-web bash -c 'cat </dev/tcp/${plan.services[0].ip}/80'     # service hairpin`,
      `  nsenter --net=/run/netns/${w2.netns}-shell unshare -m sh -c 'mount --bind ${plan.runDir}/pods/shell-${w2.name}/resolv.conf /etc/resolv.conf && getent hosts web'   # DNS as the pod sees it`,
      `  ip netns exec ${plan.admin.netns} bash -c 'cat </dev/tcp/${plan.nodes[0].ip}/22'   # SSH port from admin; from ${plan.internet.netns} it times out`,
      `  ip netns exec ${w1.netns} iptables -t mangle -S ${SG_IN_CHAIN}   # the node security group`,
      `  ip netns exec ${w1.netns} tcpdump -ni cni0            # watch a node's pod traffic`,
      `  ip netns exec ${w1.netns} conntrack -L`,
      `  cat ${w1.logFile}                                     # the plugin's log on ${w1.name}`,
      `  cat ${w1.conflistPath}`,
      shell1 ? `  (shell-${w1.name} is ${shell1.ip}; its CNI_CONTAINERID is ${shell1.rt.containerId.slice(0, 12)}...)` : "",
      `Remove it with: ${down}`,
    ]
      .filter(Boolean)
      .join("\n");
  }
}

/** Debian's portmap 1.1.1 CHECK on an IPv4-only pod with port mappings (plugins#819). */
function isPortmapIpv6CheckBug(error: unknown, podIp: string): boolean {
  return error instanceof CniCallError && error.plugin === "portmap" && error.verb === "CHECK" && /could not check ipv6 dnat/.test(error.msg) && !podIp.includes(":");
}

/** The pod's address from the ADD result: the IP on the interface inside CNI_NETNS. */
export function podAddress(result: CniResult, rt: RuntimeConf): string {
  const ifaces = result.interfaces ?? [];
  const index = ifaces.findIndex((i) => i.name === rt.ifname && i.sandbox === rt.netns);
  const ip = (result.ips ?? []).find((i) => i.interface === index) ?? (result.ips ?? [])[0];
  if (!ip) throw new Error(`ADD result has no IP: ${JSON.stringify(result)}`);
  return ip.address.split("/")[0];
}

function inCidr(ip: string, cidr: string): boolean {
  const value = parseIPv4(ip);
  return value !== undefined && cidrContainsIp(parseCidr(cidr), value);
}

/** IPAM reservations under a node's dataDir, read from the files (one per reserved IP). */
export function reservations(dataDir: string): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const name of names) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (parseIPv4(name) !== undefined) found.push(name);
    }
  };
  walk(dataDir);
  return found.sort();
}

/** podnet's node-side veths (pn...) left in a node, and anything still plugged into cni0. */
function podnetVeths(node: LabNode): string[] {
  const ran = runSync(["ip", "-n", node.netns, "-json", "link", "show"]);
  if (ran.status !== 0) return [`cannot list links: ${ran.stderr.trim()}`];
  return (JSON.parse(ran.stdout || "[]") as Array<{ ifname: string; master?: string }>)
    .filter((l) => /^pn/.test(l.ifname) || l.master === "cni0")
    .map((l) => l.ifname);
}
