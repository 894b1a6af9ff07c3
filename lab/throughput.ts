// The lab's throughput figures: iperf3 between pods on two workers, then between the two
// workers themselves, so the pod network's cost shows beside the node network it runs on.
import { runIperf } from "./iperf";
import type { LabPlan } from "./labPlan";
import type { Pods } from "./pods";

export interface Throughput {
  seconds: number;
  podToPod: { from: string; to: string; gbps: number; retransmits: number };
  nodeToNode: { from: string; to: string; gbps: number; retransmits: number };
}

export interface ThroughputRun {
  readonly plan: LabPlan;
  readonly pods: Pods;
  readonly seconds: number;
  /** Progress lines. */
  readonly say: (text: string) => void;
  /** Each iperf3 server's pid, for the state file. */
  readonly onPid: (pid: number) => void;
  /** Throws when the run has been interrupted. */
  readonly guard: () => void;
}

/** Pod to pod across nodes (shell-worker-1 -> shell-worker-2), then node to node between the same two. */
export async function measureThroughput({
  plan,
  pods,
  seconds,
  say,
  onPid,
  guard,
}: ThroughputRun): Promise<Throughput> {
  const [w1, w2] = plan.workers;
  const client = pods.get(`shell-${w1.name}`);
  const server = pods.get(`shell-${w2.name}`);
  say(`iperf3: ${seconds} s TCP, pod -> pod across nodes (${client.pod.name} -> ${server.pod.name} ${server.ip})`);
  const podRun = { serverNetns: server.pod.netns, clientNetns: client.pod.netns, host: server.ip, seconds, onPid };
  const podToPod = await runIperf(podRun);
  guard();
  say(`iperf3: ${seconds} s TCP, node -> node (${w1.name} -> ${w2.name} ${w2.ip})`);
  const nodeToNode = await runIperf({ serverNetns: w2.netns, clientNetns: w1.netns, host: w2.ip, seconds, onPid });
  return {
    seconds,
    podToPod: { from: client.pod.name, to: server.pod.name, gbps: podToPod.gbps, retransmits: podToPod.retransmits },
    nodeToNode: { from: w1.name, to: w2.name, gbps: nodeToNode.gbps, retransmits: nodeToNode.retransmits },
  };
}
