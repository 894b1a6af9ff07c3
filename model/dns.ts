// Cluster DNS as kubeadm and kubelet set it up: the kube-dns Service at the 10th address of
// the service CIDR, and each pod's resolv.conf pointing at it with the cluster's search path.
import { formatIPv4, parseCidr } from "../cni/ipv4";

/** kubeadm's default (ClusterConfiguration dnsDomain, kubelet's clusterDomain). */
export const CLUSTER_DOMAIN = "cluster.local";

/** The kube-dns Service's ClusterIP: kubeadm takes the 10th address of the service CIDR (10.96.0.10 for 10.96.0.0/12). */
export function clusterDnsIp(serviceCidr: string): string {
  return formatIPv4(parseCidr(serviceCidr).network + 10);
}

/** A Service's fully qualified name. */
export function serviceFqdn(name: string, namespace: string, domain = CLUSTER_DOMAIN): string {
  return `${name}.${namespace}.svc.${domain}`;
}

/** The resolv.conf kubelet writes into a ClusterFirst pod of `namespace`. */
export function kubeletResolvConf(nameserver: string, namespace: string, domain = CLUSTER_DOMAIN): string {
  return [
    `search ${namespace}.svc.${domain} svc.${domain} ${domain}`,
    `nameserver ${nameserver}`,
    "options ndots:5",
    "",
  ].join("\n");
}
