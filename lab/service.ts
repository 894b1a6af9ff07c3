// A ClusterIP service made by hand the way 003 makes one and kube-proxy (iptables mode)
// does on every node: nat PREROUTING (traffic from pods) and OUTPUT (traffic from the node
// itself) jump to a services chain, which sends the service IP:port through a service
// chain to an endpoint chain that DNATs to the pod.
//
// Hairpin: when the backing pod itself connects to the service, the DNAT sends the packet
// straight back to the pod it came from (the bridge port needs hairpin mode, which podnet
// turns on), still carrying the pod's own address as source. The pod would then answer
// itself directly, inside its own namespace, so the reply never goes back through the
// node and never matches the node's conntrack entry that would turn its source back into
// the service IP: the client, waiting for 10.96.0.10:80, never gets its SYN-ACK. So, like
// kube-proxy's KUBE-MARK-MASQ, the endpoint chain marks packets whose source is the
// endpoint itself and POSTROUTING masquerades marked packets: the pod sees the connection
// come from its gateway (the node's cni0 address), answers the node, and conntrack
// reverses both translations on the way back.
import { LabPlan, SERVICE } from "./plan";
import { inNetns, mustSync, runSync } from "./sh";

export const SERVICES_CHAIN = "LAB-SERVICES";
export const SVC_CHAIN = "LAB-SVC-WEB";
export const SEP_CHAIN = "LAB-SEP-WEB";
export const MARK_MASQ_CHAIN = "LAB-MARK-MASQ";
export const POSTROUTING_CHAIN = "LAB-POSTROUTING";
export const MASQ_MARK = "0x4000/0x4000";

const JUMPS: ReadonlyArray<[string, string, string]> = [
  ["PREROUTING", SERVICES_CHAIN, "lab: service portals"],
  ["OUTPUT", SERVICES_CHAIN, "lab: service portals"],
  ["POSTROUTING", POSTROUTING_CHAIN, "lab: masquerade marked service traffic"],
];

/** The nat rules, as iptables-restore input: declaring a chain empties it, so this also updates. */
export function serviceRules(endpointIp: string, endpointPort: number): string {
  const svc = `${SERVICE.namespace}/${SERVICE.name}`;
  return [
    "*nat",
    `:${SERVICES_CHAIN} - [0:0]`,
    `:${SVC_CHAIN} - [0:0]`,
    `:${SEP_CHAIN} - [0:0]`,
    `:${MARK_MASQ_CHAIN} - [0:0]`,
    `:${POSTROUTING_CHAIN} - [0:0]`,
    `-A ${SERVICES_CHAIN} -d ${SERVICE.ip}/32 -p tcp -m tcp --dport ${SERVICE.port} -m comment --comment "${svc} cluster IP" -j ${SVC_CHAIN}`,
    `-A ${SVC_CHAIN} -m comment --comment "${svc} -> ${endpointIp}:${endpointPort}" -j ${SEP_CHAIN}`,
    `-A ${SEP_CHAIN} -s ${endpointIp}/32 -m comment --comment "${svc} hairpin" -j ${MARK_MASQ_CHAIN}`,
    `-A ${SEP_CHAIN} -p tcp -m tcp -j DNAT --to-destination ${endpointIp}:${endpointPort}`,
    `-A ${MARK_MASQ_CHAIN} -j MARK --set-xmark ${MASQ_MARK}`,
    `-A ${POSTROUTING_CHAIN} -m mark ! --mark ${MASQ_MARK} -j RETURN`,
    `-A ${POSTROUTING_CHAIN} -j MARK --set-xmark 0x4000/0x0`,
    `-A ${POSTROUTING_CHAIN} -m comment --comment "lab: hairpin service traffic" -j MASQUERADE`,
    "COMMIT",
    "",
  ].join("\n");
}

/** Installs or updates the service on every node (kube-proxy runs on every node). */
export function installService(plan: LabPlan, endpointIp: string, endpointPort: number): void {
  for (const node of plan.nodes) {
    mustSync(inNetns(node.netns, ["iptables-restore", "-w", "5", "--noflush"]), serviceRules(endpointIp, endpointPort));
    for (const [parent, chain, comment] of JUMPS) {
      const rule = ["-m", "comment", "--comment", comment, "-j", chain];
      const present = runSync(inNetns(node.netns, ["iptables", "-w", "5", "-t", "nat", "-C", parent, ...rule])).status === 0;
      if (!present) mustSync(inNetns(node.netns, ["iptables", "-w", "5", "-t", "nat", "-A", parent, ...rule]));
    }
  }
}

/** Removes (or puts back) the hairpin mark rule on one node, to show what it is for. */
export function setHairpinMasq(plan: LabPlan, node: string, endpointIp: string, enabled: boolean): void {
  const netns = plan.nodes.find((n) => n.name === node)?.netns;
  if (!netns) throw new Error(`no node ${node}`);
  const rule = ["-s", `${endpointIp}/32`, "-m", "comment", "--comment", `${SERVICE.namespace}/${SERVICE.name} hairpin`, "-j", MARK_MASQ_CHAIN];
  const op = enabled ? ["-I", SEP_CHAIN, "1"] : ["-D", SEP_CHAIN];
  mustSync(inNetns(netns, ["iptables", "-w", "5", "-t", "nat", ...op, ...rule]));
}
