// podnet on AWS: `pulumi up` takes an empty account to a kubeadm cluster whose pods are
// wired by the podnet CNI plugin and VPC routes; `pulumi destroy` removes all of it.
// Settings: Pulumi.yaml (keys, types, defaults) and components/config.ts (validation).
import { Cluster } from "./components/cluster";
import { readConfig } from "./components/config";

const cluster = new Cluster("podnet", readConfig());

/** The API server's public endpoint (an Elastic IP). */
export const controlPlanePublicIp = cluster.controlPlanePublicIp;
/** One row per node: name, role, private and public IP, pod CIDR, primary ENI. */
export const nodes = cluster.nodeTable;
/** admin kubeconfig pointing at the public endpoint (secret). */
export const kubeconfig = cluster.kubeconfig;
/** SSH private key for user ubuntu on every node (secret). */
export const sshPrivateKey = cluster.sshPrivateKey;
/** How to use the two secrets above. */
export const usage = cluster.usage;
/** The network settings a running cluster cannot change; the next run refuses a change to them. */
export const networkSettings = cluster.networkSettings;
/** The connectivity checks that ended the update: the lab's table and any failures (podnet:verify). */
export const connectivity = cluster.connectivity;
