// The lab: brings the cluster's network up in namespaces, runs the real plugin through
// the conflists the stack writes, proves the seed labs' checks, measures throughput.
// The steps and their progress lines are here; the pods (lab/pods.ts), the lifecycle rows
// (lab/lifecycle.ts), the throughput runs (lab/throughput.ts) and the text for a kept lab
// (lab/help.ts) have modules of their own.
import type { Actor, CheckRow, Perturbation } from "../model/checks";
import { CHECK_TABLE } from "../model/checkTable";
import { API_SERVER_PORT, SSH_PORT } from "../model/ports";
import { runTable } from "../model/runChecks";
import { nodeSecurityGroup, POD_CIDR_RULE, withoutRule } from "../model/securityGroups";
import { type AgentHandle, bundleAgent, startAgent } from "./agents";
import { LabDriver, labTopology } from "./driver";
import { pokeHelp } from "./help";
import {
  buildPlan,
  INTERNET_PORT,
  type LabOptions,
  type LabPlan,
  NODE_PORT,
  planNamespaces,
  type VpcRoute,
} from "./labPlan";
import { cniCheckRows, deleteAll, leftoverRows, type Row, readdRows } from "./lifecycle";
import { type NodeCni, nodeRuntimes, type PodReport, Pods } from "./pods";
import { bundlePath } from "./preflight";
import { applySecurityGroup } from "./securityGroup";
import { installServices, setHairpinMasq } from "./service";
import { type LabState, labNamespaces, liveController, readState, teardown, writeState } from "./state";
import { measureThroughput, type Throughput } from "./throughput";
import {
  buildAdmin,
  buildInternet,
  buildNodes,
  buildRouter,
  createNamespaces,
  installCniBin,
  installVpcRoutes,
  writeConflists,
} from "./topology";

export type { PodReport } from "./pods";
export type { Throughput } from "./throughput";

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

/** The agents that stand in for the nodes' servers and the two outside addresses. */
interface HostAgents {
  readonly nodes: ReadonlyMap<string, AgentHandle>;
  readonly internet: AgentHandle;
  readonly admin: AgentHandle;
}

export class Lab {
  readonly plan: LabPlan;
  private readonly started = Date.now();
  private aborted: string | undefined;
  private state: LabState;
  private pods: Pods | undefined;
  private hostAgents: HostAgents | undefined;
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

  private running(): Pods {
    if (!this.pods) throw new Error("the lab has no pods yet: up() starts them");
    return this.pods;
  }

  /** Everything up to running pods. */
  async up(): Promise<void> {
    const t0 = Date.now();
    await this.clearLeftover();
    this.guard();
    writeState(this.state);
    this.buildNetwork();
    this.guard();
    const cni = await this.installCni();
    this.guard();
    const agentJs = bundleAgent(this.plan.runDir);
    this.hostAgents = await this.startHostAgents(agentJs);
    this.recordPids();
    this.guard();
    this.pods = new Pods(this.plan, cni, agentJs, () => this.guard());
    await this.startPods();
    this.mark("upMs", t0);
  }

  /** A lab left over with this prefix goes first; a live one is another run's, and stops this one. */
  private async clearLeftover(): Promise<void> {
    const prefix = this.plan.options.prefix;
    const previous = readState(prefix);
    const live = liveController(previous);
    if (live !== undefined) {
      throw new LabBusy(
        `a lab with prefix ${prefix} is running right now (pid ${live}); wait for it, stop it, or use --prefix`,
      );
    }
    if (previous || labNamespaces(prefix).length > 0) {
      this.say(
        `found a lab left over with prefix ${prefix}${previous?.keep ? " (kept with --keep)" : ""}: tearing it down first`,
      );
      const removed = await teardown(prefix);
      const problems = removed.problems.length ? `; problems: ${removed.problems.join("; ")}` : "";
      this.say(`  removed ${removed.namespaces.length} namespaces, stopped ${removed.processes} processes${problems}`);
    }
  }

  /** The namespaces, the VPC (router, routes, internet, admin) and the node security group. */
  private buildNetwork(): void {
    const { plan } = this;
    const nodeNames = plan.nodes.map((n) => n.name).join(", ");
    this.say(
      `namespaces: router, internet, admin, ${plan.nodes.length} nodes (${nodeNames}) with prefix ${plan.options.prefix}-`,
    );
    createNamespaces([plan.router.netns, plan.internet.netns, plan.admin.netns, ...plan.nodes.map((n) => n.netns)]);
    buildRouter(plan);
    buildNodes(plan);
    buildInternet(plan);
    buildAdmin(plan);
    applySecurityGroup(plan, this.securityGroup());
    this.guard();
    this.say(
      `VPC subnet ${plan.subnetCidr} on bridge ${plan.router.bridge} in ${plan.router.netns} (router ${plan.router.ip}); internet ${plan.internet.ip} and admin ${plan.admin.ip} behind it`,
    );
    this.say(
      `node security group on every eth0 (model/securityGroups.ts, adminCidrs ${plan.adminCidrs.join(", ")}): ${this.securityGroup()
        .ingress.map((r) => r.name)
        .join(", ")}`,
    );
    for (const n of plan.nodes)
      this.say(
        `  node ${n.name.padEnd(14)} ${n.netns.padEnd(22)} eth0 ${n.ip}  pod CIDR ${n.plan.podCidr}  gateway ${n.plan.gateway}`,
      );
    installVpcRoutes(plan);
    this.say(`VPC route table (planCluster, the routes the stack creates; target = the node's ENI, here its IP):`);
    for (const r of plan.routes) this.say(`  ${r.destination.padEnd(16)} -> ${r.via.padEnd(11)} (${r.node})`);
  }

  /** The plugin and the conflists where each node's runtime finds them, and VERSION through the first. */
  private async installCni(): Promise<Map<string, NodeCni>> {
    const { plan } = this;
    installCniBin(plan, bundlePath());
    writeConflists(plan);
    const cni = nodeRuntimes(plan);
    const first = cni.get(plan.nodes[0].name);
    if (!first) throw new Error(`no runtime for ${plan.nodes[0].name}`);
    const versions = await first.runtime.validate(first.list);
    this.say(
      `CNI: ${plan.binDir}/podnet (dist/podnet, 0755) + ${versions.length - 1} chained; conflists ${plan.runDir}/nodes/<node>/net.d/ ` +
        `(cniVersion ${first.list.cniVersion}; VERSION ok: ${versions.map((v) => `${v.plugin} [${v.supported.join(",")}]`).join(" ")})`,
    );
    return cni;
  }

  /** The nodes' servers, the internet's and the admin client. */
  private async startHostAgents(agentJs: string): Promise<HostAgents> {
    const { plan } = this;
    const start = (name: string, netns: string, ports: number[]) =>
      startAgent({ agentJs, dir: plan.agentDir, name, netns, ports });
    // The control plane also answers where sshd and kube-apiserver would, for the security group's admin rows.
    const nodeStarts = plan.nodes.map(async (node): Promise<[string, AgentHandle]> => {
      const ports = node.plan.role === "control-plane" ? [NODE_PORT, SSH_PORT, API_SERVER_PORT] : [NODE_PORT];
      return [node.name, await start(node.name, node.netns, ports)];
    });
    const [nodes, internet, admin] = await Promise.all([
      Promise.all(nodeStarts),
      start("internet", plan.internet.netns, [INTERNET_PORT]),
      start("admin", plan.admin.netns, []),
    ]);
    this.say(
      `servers: :${NODE_PORT} on every node (and :${SSH_PORT}, :${API_SERVER_PORT} on ${plan.nodes[0].name}), :${INTERNET_PORT} on ${plan.internet.ip}; admin client ${plan.admin.ip}`,
    );
    return { nodes: new Map(nodes), internet, admin };
  }

  /** Every pod, then the services in front of them. */
  private async startPods(): Promise<void> {
    const pods = await this.addAllPods();
    this.report.pods = pods;
    for (const p of pods)
      this.say(
        `  pod ${p.name.padEnd(16)} ${p.node.padEnd(10)} ${p.ip.padEnd(12)} netns ${p.netns}  (CNI ADD ${p.addMs} ms)`,
      );
    installServices(this.plan, this.running().ips());
    for (const s of this.plan.services)
      this.say(
        `service ${`${s.namespace}/${s.name}`.padEnd(20)} ${s.ip}:${s.port}/${s.protocol} -> ${s.endpoint}:${s.targetPort} (nat LAB-SERVICES on every node)`,
      );
  }

  private async addAllPods(): Promise<PodReport[]> {
    const reports = await this.running().addAll();
    this.recordPids();
    return reports;
  }

  /** The node security group the stack creates, with the lab's adminCidrs. */
  private securityGroup() {
    return nodeSecurityGroup({ adminCidrs: this.plan.adminCidrs, clusterCidr: this.plan.clusterCidr });
  }

  private recordPids(): void {
    const hosts = this.hostAgents
      ? [...this.hostAgents.nodes.values(), this.hostAgents.internet, this.hostAgents.admin]
      : [];
    this.state.pids = [...hosts, ...(this.pods?.agents() ?? [])].map((a) => a.pid);
    this.save();
  }

  private notePid(pid: number): void {
    this.state.pids.push(pid);
    this.save();
  }

  /** The state file, while the run has not been interrupted (teardown owns it then). */
  private save(): void {
    if (!this.aborted) writeState(this.state);
  }

  private add(rows: readonly Row[], phase: string): void {
    for (const row of rows) this.rows.push({ phase, ...row });
  }

  /** The agent acting for an actor of the table. */
  private agentOf(actor: Actor): AgentHandle {
    if (actor.kind === "pod") return this.running().get(actor.name).agent;
    const hosts = this.hostAgents;
    const agent =
      actor.kind === "node" ? hosts?.nodes.get(actor.name) : actor.name === "internet" ? hosts?.internet : hosts?.admin;
    if (!agent) throw new Error(`no agent for ${actor.kind} ${actor.name}`);
    return agent;
  }

  /** The negative controls' changes, each with its undo. */
  private async perturb(change: Perturbation): Promise<() => Promise<void>> {
    const { plan } = this;
    if (change === "hairpin-masq-off") {
      const web = plan.services[0];
      setHairpinMasq(plan, web, this.running().ips(), false);
      return async () => setHairpinMasq(plan, web, this.running().ips(), true);
    }
    applySecurityGroup(plan, withoutRule(this.securityGroup(), POD_CIDR_RULE));
    return async () => applySecurityGroup(plan, this.securityGroup());
  }

  /** Every runnable row of the table (model/checkTable.ts) through the lab's driver. */
  async connectivity(phase: string): Promise<void> {
    this.guard();
    const driver = new LabDriver({ agent: (a) => this.agentOf(a), perturb: (c) => this.perturb(c) });
    const topology = labTopology(this.plan, this.running().ips());
    const rows = await runTable(CHECK_TABLE, driver, topology, {
      phase,
      first: phase === "initial",
      guard: () => this.guard(),
    });
    this.rows.push(...rows);
  }

  /** CNI CHECK through the conflist for every pod (lab/lifecycle.ts). */
  async cniCheck(phase: string): Promise<void> {
    this.guard();
    this.add(await cniCheckRows(this.running()), phase);
  }

  /** Deletes every pod through the conflist, proves nothing is left, adds them again. */
  async deleteAndReadd(): Promise<void> {
    this.guard();
    const t0 = Date.now();
    const phase = "delete and re-add";
    const before = this.running().ips();
    const del = await deleteAll(this.plan, this.running());
    this.add([del], phase);
    if (!del.ok) throw new Error(`DEL failed: ${del.seen}`);
    this.add(leftoverRows(this.plan), phase);
    this.guard();
    const readded = await this.addAllPods();
    this.report.readdedPods = readded;
    this.add(readdRows(this.plan, before, readded), phase);
    installServices(this.plan, this.running().ips());
    this.mark("readdMs", t0);
  }

  /** iperf3 pod to pod and node to node across two workers, unless --iperf-seconds 0. */
  async throughput(): Promise<void> {
    const seconds = this.plan.options.iperfSeconds;
    if (seconds <= 0) return;
    this.guard();
    const t0 = Date.now();
    this.report.throughput = await measureThroughput({
      plan: this.plan,
      pods: this.running(),
      seconds,
      say: (text) => this.say(text),
      onPid: (pid) => this.notePid(pid),
      guard: () => this.guard(),
    });
    this.mark("iperfMs", t0);
  }

  async runChecks(): Promise<void> {
    const t0 = Date.now();
    this.say("checks: the table (connectivity, services, DNS, security group), CNI CHECK");
    await this.connectivity("initial");
    await this.cniCheck("initial");
    this.mark("checksMs", t0);
    this.say("delete every pod through the conflist, then add them again");
    await this.deleteAndReadd();
    for (const r of this.report.readdedPods)
      this.say(`  pod ${r.name.padEnd(16)} ${r.node.padEnd(10)} ${r.ip.padEnd(12)} (CNI ADD ${r.addMs} ms)`);
    const t1 = Date.now();
    await this.connectivity("after re-add");
    await this.cniCheck("after re-add");
    this.mark("recheckMs", t1);
  }

  /** Commands to poke around a kept lab (lab/help.ts). */
  pokeHelp(): string {
    return pokeHelp(this.plan, (name) => this.pods?.find(name));
  }
}
