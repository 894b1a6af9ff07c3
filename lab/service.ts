// ClusterIP services made by hand the way seed lab 003 makes one (docs/seed-labs.md) and
// kube-proxy (iptables mode) does on every node (web over TCP, echo and kube-dns over UDP):
// nat PREROUTING (traffic from pods) and OUTPUT (traffic from the node itself) jump to a
// services chain, which sends the service IP:port through a service chain to an endpoint
// chain that DNATs to the pod.
//
// Hairpin: when the backing pod itself connects to the service, the DNAT sends the packet
// straight back to the pod it came from (the bridge port needs hairpin mode, which podnet
// turns on), still carrying the pod's own address as source. The pod would then answer
// itself directly, inside its own namespace, so the reply never goes back through the
// node and never matches the node's conntrack entry that would turn its source back into
// the service IP: the client, waiting for 10.96.0.20:80, never gets its SYN-ACK. So, like
// kube-proxy's KUBE-MARK-MASQ, the endpoint chain marks packets whose source is the
// endpoint itself and POSTROUTING masquerades marked packets: the pod sees the connection
// come from its gateway (the node's cni0 address), answers the node, and conntrack
// reverses both translations on the way back.
import type { LabPlan, LabService } from "./labPlan";
import { inNetns, mustSync, runSync } from "./sh";

export const SERVICES_CHAIN = "LAB-SERVICES";
export const MARK_MASQ_CHAIN = "LAB-MARK-MASQ";
export const POSTROUTING_CHAIN = "LAB-POSTROUTING";
export const MASQ_MARK = "0x4000/0x4000";

export const svcChain = (s: LabService) => `LAB-SVC-${s.tag}`;
export const sepChain = (s: LabService) => `LAB-SEP-${s.tag}`;

const JUMPS: ReadonlyArray<[string, string, string]> = [
  ["PREROUTING", SERVICES_CHAIN, "lab: service portals"],
  ["OUTPUT", SERVICES_CHAIN, "lab: service portals"],
  ["POSTROUTING", POSTROUTING_CHAIN, "lab: masquerade marked service traffic"],
];

/** An endpoint's address, by pod name. */
export type Endpoints = ReadonlyMap<string, string>;

function endpointOf(s: LabService, endpoints: Endpoints): string {
  const ip = endpoints.get(s.endpoint);
  if (!ip) throw new Error(`service ${s.namespace}/${s.name}: endpoint ${s.endpoint} has no address`);
  return ip;
}

function hairpinRule(s: LabService, endpointIp: string): string[] {
  return [
    "-s",
    `${endpointIp}/32`,
    "-m",
    "comment",
    "--comment",
    `${s.namespace}/${s.name} hairpin`,
    "-j",
    MARK_MASQ_CHAIN,
  ];
}

/** The nat rules, as iptables-restore input: declaring a chain empties it, so this also updates. */
export function serviceRules(services: readonly LabService[], endpoints: Endpoints): string {
  const lines = ["*nat", `:${SERVICES_CHAIN} - [0:0]`, `:${MARK_MASQ_CHAIN} - [0:0]`, `:${POSTROUTING_CHAIN} - [0:0]`];
  for (const s of services) lines.push(`:${svcChain(s)} - [0:0]`, `:${sepChain(s)} - [0:0]`);
  for (const s of services) {
    const svc = `${s.namespace}/${s.name}`;
    const ip = endpointOf(s, endpoints);
    const p = `-p ${s.protocol} -m ${s.protocol}`;
    lines.push(
      `-A ${SERVICES_CHAIN} -d ${s.ip}/32 ${p} --dport ${s.port} -m comment --comment "${svc} cluster IP" -j ${svcChain(s)}`,
      `-A ${svcChain(s)} -m comment --comment "${svc} -> ${ip}:${s.targetPort}" -j ${sepChain(s)}`,
      `-A ${sepChain(s)} ${hairpinRule(s, ip)
        .map((a) => (a.includes(" ") ? `"${a}"` : a))
        .join(" ")}`,
      `-A ${sepChain(s)} ${p} -j DNAT --to-destination ${ip}:${s.targetPort}`,
    );
  }
  lines.push(
    `-A ${MARK_MASQ_CHAIN} -j MARK --set-xmark ${MASQ_MARK}`,
    `-A ${POSTROUTING_CHAIN} -m mark ! --mark ${MASQ_MARK} -j RETURN`,
    `-A ${POSTROUTING_CHAIN} -j MARK --set-xmark 0x4000/0x0`,
    `-A ${POSTROUTING_CHAIN} -m comment --comment "lab: hairpin service traffic" -j MASQUERADE`,
    "COMMIT",
    "",
  );
  return lines.join("\n");
}

/** Installs or updates the services on every node (kube-proxy runs on every node). */
export function installServices(plan: LabPlan, endpoints: Endpoints): void {
  for (const node of plan.nodes) {
    mustSync(inNetns(node.netns, ["iptables-restore", "-w", "5", "--noflush"]), serviceRules(plan.services, endpoints));
    for (const [parent, chain, comment] of JUMPS) {
      const rule = ["-m", "comment", "--comment", comment, "-j", chain];
      const present =
        runSync(inNetns(node.netns, ["iptables", "-w", "5", "-t", "nat", "-C", parent, ...rule])).status === 0;
      if (!present) mustSync(inNetns(node.netns, ["iptables", "-w", "5", "-t", "nat", "-A", parent, ...rule]));
    }
  }
}

/** Removes (or puts back) a service's hairpin mark rule on the endpoint's node, to show what it is for. */
export function setHairpinMasq(plan: LabPlan, service: LabService, endpoints: Endpoints, enabled: boolean): void {
  const nodeName = plan.pods.find((p) => p.name === service.endpoint)?.node;
  const netns = plan.nodes.find((n) => n.name === nodeName)?.netns;
  if (!netns) throw new Error(`no node for ${service.endpoint}`);
  const op = enabled ? ["-I", sepChain(service), "1"] : ["-D", sepChain(service)];
  mustSync(
    inNetns(netns, [
      "iptables",
      "-w",
      "5",
      "-t",
      "nat",
      ...op,
      ...hairpinRule(service, endpointOf(service, endpoints)),
    ]),
  );
}
