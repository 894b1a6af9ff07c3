// The cluster's CIDR plan: which pod subnet each node owns. The Pulumi stack (VPC routes,
// conflists, Node.spec.podCIDR), the lab (router routes, conflists) and the tests all call
// planCluster, so a node's route, bridge gateway and IPAM range can never disagree.
import { type Cidr, formatCidr, formatIPv4, gatewayOf, nthSubnet, subnetCount, tryParseCidr } from "./ipv4";

export type NodeRole = "control-plane" | "worker";

export interface NodePlan {
  /** Kubernetes node name and hostname: control-plane, worker-1, worker-2, ... */
  readonly name: string;
  readonly role: NodeRole;
  /** Position in the plan; also the index of the node's subnet in the cluster CIDR. */
  readonly index: number;
  /** The node's pod subnet, e.g. 10.244.1.0/24. */
  readonly podCidr: string;
  /** The subnet's first address, held by the node's bridge (cni0). */
  readonly gateway: string;
}

export interface ClusterPlanInput {
  /** The cluster (pod) CIDR, e.g. 10.244.0.0/16. */
  readonly clusterCidr: string;
  /** Prefix length of each node's pod subnet, e.g. 24. */
  readonly nodeMaskSize: number;
  /** Worker count; the plan always has one control plane in front of them. */
  readonly workerCount: number;
}

/** The node pod subnets' prefix lengths podnet plans: /16 (65533 pods a node) to /28 (13). */
export const NODE_MASK_SIZE_RANGE = { min: 16, max: 28 } as const;

export const CONTROL_PLANE_NAME = "control-plane";

export function workerName(ordinal: number): string {
  return `worker-${ordinal}`;
}

/** Problems with a plan input, each naming the field; empty when the input is usable. */
export function planProblems(input: ClusterPlanInput): string[] {
  const problems: string[] = [];
  const cluster = tryParseCidr(input.clusterCidr);
  if (!cluster.ok) problems.push(`clusterCidr: ${cluster.reason}`);
  const mask = input.nodeMaskSize;
  const { min, max } = NODE_MASK_SIZE_RANGE;
  if (!Number.isInteger(mask) || mask < min || mask > max) {
    problems.push(`nodeMaskSize: ${mask} must be a whole number from ${min} to ${max} (24 gives each node 253 pods)`);
  }
  const workers = input.workerCount;
  if (!Number.isInteger(workers) || workers < 0) {
    problems.push(`workerCount: ${workers} must be a whole number of 0 or more`);
  }
  if (problems.length === 0 && cluster.ok) {
    const capacity = subnetCount(cluster.cidr, mask);
    const nodes = workers + 1;
    if (capacity === 0) {
      problems.push(`nodeMaskSize: /${mask} is wider than clusterCidr ${input.clusterCidr}`);
    } else if (nodes > capacity) {
      problems.push(
        `workerCount: ${nodes} nodes need ${nodes} /${mask} subnets but clusterCidr ${input.clusterCidr} holds ${capacity}; ` +
          `use fewer workers, a larger clusterCidr or a longer nodeMaskSize`,
      );
    }
  }
  return problems;
}

/** Plans every node's pod subnet: node i owns the i-th /nodeMaskSize of the cluster CIDR. */
export function planCluster(input: ClusterPlanInput): NodePlan[] {
  const problems = planProblems(input);
  if (problems.length > 0) throw new Error(`invalid cluster plan: ${problems.join("; ")}`);
  const cluster = tryParseCidr(input.clusterCidr);
  if (!cluster.ok) throw new Error(cluster.reason);
  const nodes: NodePlan[] = [];
  for (let index = 0; index <= input.workerCount; index++) {
    const subnet: Cidr = nthSubnet(cluster.cidr, input.nodeMaskSize, index);
    nodes.push({
      name: index === 0 ? CONTROL_PLANE_NAME : workerName(index),
      role: index === 0 ? "control-plane" : "worker",
      index,
      podCidr: formatCidr(subnet),
      gateway: formatIPv4(gatewayOf(subnet)),
    });
  }
  return nodes;
}
