// The nodes' security group, as data: the one definition that components/network.ts turns
// into AWS rules and the lab enforces on every node's eth0. Pure: no Pulumi, no system.
//
// A security group is stateful: replies to traffic it let through pass in both directions
// whatever the rules say, and anything inbound that no rule admits is dropped silently.
import { API_SERVER_PORT, SSH_PORT } from "./ports";

export type SgProtocol = "tcp" | "udp" | "icmp" | "all";

/** Where a rule admits traffic from (ingress) or to (egress). */
export type SgPeer =
  /** An IPv4 CIDR. */
  | { readonly cidr: string }
  /** The group itself: every network interface in it (on AWS a referencedSecurityGroupId). */
  | { readonly self: true };

export interface SgRule {
  /** Stable short name: the Pulumi resource name's suffix and the lab's rule comment. */
  readonly name: string;
  readonly description: string;
  readonly protocol: SgProtocol;
  /** First port of the range (tcp/udp only). */
  readonly fromPort?: number;
  /** Last port of the range (tcp/udp only). */
  readonly toPort?: number;
  readonly peer: SgPeer;
}

export interface NodeSecurityGroup {
  readonly description: string;
  readonly ingress: readonly SgRule[];
  readonly egress: readonly SgRule[];
}

export interface NodeSecurityGroupInput {
  /** The addresses allowed to reach SSH and the API server (podnet:adminCidrs). */
  readonly adminCidrs: readonly string[];
  /** The pod CIDR (podnet:clusterCidr): cross-node pod traffic arrives with a pod source address. */
  readonly clusterCidr: string;
}

/** The name of the rule that admits pod traffic between nodes (004's lesson; the lab's negative control removes it). */
export const POD_CIDR_RULE = "pods";

export function nodeSecurityGroup(input: NodeSecurityGroupInput): NodeSecurityGroup {
  const admin = input.adminCidrs.flatMap((cidr, i): SgRule[] => [
    {
      name: `ssh-admin-${i}`,
      description: `SSH from admin ${cidr}`,
      protocol: "tcp",
      fromPort: SSH_PORT,
      toPort: SSH_PORT,
      peer: { cidr },
    },
    {
      name: `api-admin-${i}`,
      description: `API server from admin ${cidr}`,
      protocol: "tcp",
      fromPort: API_SERVER_PORT,
      toPort: API_SERVER_PORT,
      peer: { cidr },
    },
  ]);
  return {
    description: "podnet nodes: SSH and API server from admin CIDRs, everything between nodes and from pods",
    ingress: [
      ...admin,
      { name: "nodes", description: "all traffic between the nodes", protocol: "all", peer: { self: true } },
      // Cross-node pod traffic is routed, not masqueraded: it arrives with its pod source address.
      {
        name: POD_CIDR_RULE,
        description: `all traffic from pods (${input.clusterCidr})`,
        protocol: "all",
        peer: { cidr: input.clusterCidr },
      },
    ],
    egress: [{ name: "all", description: "all outbound traffic", protocol: "all", peer: { cidr: "0.0.0.0/0" } }],
  };
}

/** The group without one rule: what a negative control enforces. */
export function withoutRule(group: NodeSecurityGroup, name: string): NodeSecurityGroup {
  if (!group.ingress.some((r) => r.name === name))
    throw new Error(`no ingress rule ${name} in the node security group`);
  return { ...group, ingress: group.ingress.filter((r) => r.name !== name) };
}

/** AWS's ipProtocol: "-1" for all protocols. */
export function awsProtocol(protocol: SgProtocol): string {
  return protocol === "all" ? "-1" : protocol;
}
