// The node security group (model/securityGroups.ts) enforced on each lab node's eth0, as
// AWS enforces it on the node's ENI: stateful (replies to allowed traffic pass either way),
// inbound filtered by protocol, port and source, anything else dropped silently.
//
// The chains hang off mangle PREROUTING/POSTROUTING on eth0 rather than filter INPUT/FORWARD:
// like an ENI's group, they then see every packet entering or leaving the node, addressed to
// the node or routed on to its pods, with its original destination (before portmap's DNAT),
// and podnet's own FORWARD rules cannot come before them.
import type { NodeSecurityGroup, SgRule } from "../model/securityGroups";
import type { LabPlan } from "./labPlan";
import { inNetns, mustSync, runSync } from "./sh";

export const SG_IN_CHAIN = "LAB-SG-IN";
export const SG_OUT_CHAIN = "LAB-SG-OUT";

const JUMPS: ReadonlyArray<[string, string, string]> = [
  ["PREROUTING", "-i", SG_IN_CHAIN],
  ["POSTROUTING", "-o", SG_OUT_CHAIN],
];

/** iptables match for one rule; `self` is the group's members, every node's eth0 address. */
function matches(rule: SgRule, direction: "-s" | "-d", members: readonly string[]): string[] {
  const peers = "self" in rule.peer ? members.map((ip) => `${ip}/32`) : [rule.peer.cidr];
  const proto = rule.protocol === "all" ? "" : ` -p ${rule.protocol}`;
  const ports =
    (rule.protocol === "tcp" || rule.protocol === "udp") && rule.fromPort !== undefined
      ? ` -m ${rule.protocol} --dport ${rule.fromPort}${rule.toPort !== undefined && rule.toPort !== rule.fromPort ? `:${rule.toPort}` : ""}`
      : "";
  return peers.map((peer) => `${direction} ${peer}${proto}${ports}`);
}

function chain(
  name: string,
  rules: readonly SgRule[],
  direction: "-s" | "-d",
  members: readonly string[],
  tag: string,
): string[] {
  return [
    `-A ${name} -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment "sg: stateful, replies pass" -j ACCEPT`,
    ...rules.flatMap((r) =>
      matches(r, direction, members).map((m) => `-A ${name} ${m} -m comment --comment "sg ${tag}-${r.name}" -j ACCEPT`),
    ),
    `-A ${name} -m comment --comment "sg: no rule admits it" -j DROP`,
  ];
}

/** The mangle rules for one node, as iptables-restore input (declaring a chain empties it, so this also updates). */
export function securityGroupRules(group: NodeSecurityGroup, members: readonly string[]): string {
  return [
    "*mangle",
    `:${SG_IN_CHAIN} - [0:0]`,
    `:${SG_OUT_CHAIN} - [0:0]`,
    ...chain(SG_IN_CHAIN, group.ingress, "-s", members, "in"),
    ...chain(SG_OUT_CHAIN, group.egress, "-d", members, "out"),
    "COMMIT",
    "",
  ].join("\n");
}

/** Puts the group on every node's eth0 (or replaces the rules it had). */
export function applySecurityGroup(plan: LabPlan, group: NodeSecurityGroup): void {
  const members = plan.nodes.map((n) => n.ip);
  const rules = securityGroupRules(group, members);
  for (const node of plan.nodes) {
    mustSync(inNetns(node.netns, ["iptables-restore", "-w", "5", "--noflush"]), rules);
    for (const [parent, dir, target] of JUMPS) {
      const rule = [dir, "eth0", "-m", "comment", "--comment", "lab: the node security group", "-j", target];
      if (runSync(inNetns(node.netns, ["iptables", "-w", "5", "-t", "mangle", "-C", parent, ...rule])).status !== 0) {
        mustSync(inNetns(node.netns, ["iptables", "-w", "5", "-t", "mangle", "-A", parent, ...rule]));
      }
    }
  }
}
