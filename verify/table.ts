// The table the real cluster runs: the lab's table of checks (model/checkTable.ts), with
// the one row whose expectation differs on AWS and the rows only a real cluster has.
//
//   pod -> internet   the lab's internet server sees the node's address; on AWS the internet
//                     sees the node's public IP (the VPC's 1:1 NAT after podnet's MASQUERADE),
//                     read from checkip.amazonaws.com
//   DNS: kubernetes   every pod resolves kubernetes.default.svc.cluster.local through CoreDNS
import type { Case, CheckSpec, TopoService } from "../model/checks";
import { CHECK_TABLE, checkSpec } from "../model/checkTable";
import { KUBERNETES_SERVICE } from "./cluster";
import { type ClusterTopology, INTERNET } from "./driver";

export const INTERNET_ROW = "pod -> internet (masqueraded)";
export const KUBERNETES_DNS_ROW = "DNS: pod resolves kubernetes.default";
export const KUBERNETES_FQDN = "kubernetes.default.svc.cluster.local";

const internet: CheckSpec = {
  ...checkSpec(INTERNET_ROW),
  to: `${INTERNET.ip} (reports the caller's address)`,
  must: "the internet sees **the node's public IP**: podnet masqueraded the pod to the node's address",
  cases: (t) => {
    const topo = t as ClusterTopology;
    return topo.nodes.flatMap((n): Case[] => {
      const client = topo.pods.find((p) => p.role === "shell" && p.node === n.name);
      if (!client || !n.publicIp) return [];
      return [
        {
          from: { kind: "pod", name: client.name },
          probe: { kind: "tcp", label: "internet", host: INTERNET.ip, port: INTERNET.port },
          expect: { peer: n.publicIp },
        },
      ];
    });
  },
};

const kubernetesDns: CheckSpec = {
  group: KUBERNETES_DNS_ROW,
  from: "every pod",
  to: "svc kube-dns (CoreDNS)",
  must: `\`${KUBERNETES_FQDN}\` resolves to the kubernetes Service's ClusterIP`,
  seed: '004 "Understand CoreDNS"',
  cases: (t) => {
    const api = t.services.find((s: TopoService) => s.name === KUBERNETES_SERVICE);
    const dns = t.services.find((s: TopoService) => s.name === "kube-dns");
    if (!api || !dns) return [];
    return t.pods.map((p) => ({
      from: { kind: "pod", name: p.name },
      probe: {
        kind: "dns",
        label: `"kubernetes.default" via ${dns.name} ${dns.ip}:${dns.port}`,
        name: KUBERNETES_FQDN,
      },
      expect: { addresses: [api.ip] },
    }));
  },
};

/** The lab's table with the cluster's internet row, then the cluster's own rows. */
export const CLUSTER_TABLE: readonly CheckSpec[] = [
  ...CHECK_TABLE.map((spec) => (spec.group === INTERNET_ROW ? internet : spec)),
  kubernetesDns,
];
