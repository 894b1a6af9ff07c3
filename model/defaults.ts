// The cluster network a stack gets when its settings leave it alone, and the one the lab builds.
// Pure data, importable without @pulumi/pulumi: the stack's settings (components/config.ts) and
// the lab read it, and Pulumi.yaml declares the same defaults (test/defaults.unit.test.ts).

/** The default network, as `pulumi config` keys of the podnet: namespace. */
export const NETWORK_DEFAULTS = {
  /** The VPC. */
  vpcCidr: "10.0.0.0/16",
  /** The nodes' subnet, inside the VPC. */
  subnetCidr: "10.0.1.0/24",
  /** The pod network: node i gets its i-th /nodeMaskSize, the control plane first. */
  clusterCidr: "10.244.0.0/16",
  /** Each node's pod CIDR prefix length: a /24 holds 253 pods. */
  nodeMaskSize: 24,
  /** The Service network (kubeadm's own default). */
  serviceCidr: "10.96.0.0/12",
} as const;

export type NetworkDefaults = typeof NETWORK_DEFAULTS;
