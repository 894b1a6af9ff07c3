// Renders a node's CNI network configuration list. The Pulumi stack writes exactly this
// to each node, the lab hands it to the plugin the same way, and the image bakes the
// paths below: one function, so AWS and the lab cannot drift apart.
import type { NodePlan } from "./plan";

/** Where the image installs the bundle and where runtimes look for plugins. */
export const CNI_BIN_DIR = "/opt/cni/bin";
/** Where kubelet/containerd read network configs from. */
export const CNI_CONF_DIR = "/etc/cni/net.d";
export const PLUGIN_TYPE = "podnet";
export const PLUGIN_PATH = `${CNI_BIN_DIR}/${PLUGIN_TYPE}`;
export const CONFLIST_FILE = "10-podnet.conflist";
export const CONFLIST_PATH = `${CNI_CONF_DIR}/${CONFLIST_FILE}`;
export const DEFAULT_NETWORK_NAME = "podnet";
export const DEFAULT_BRIDGE = "cni0";
export const DEFAULT_MTU = 1500;
/** The bridge port reflects a pod's packets back to it, so a pod reaches itself through a Service. */
export const DEFAULT_HAIRPIN = true;
/** Pod traffic leaving the cluster CIDR is masqueraded to the node's address. */
export const DEFAULT_IP_MASQ = true;
export const DEFAULT_DATA_DIR = "/var/lib/cni/podnet";
export const DEFAULT_LOG_FILE = "/var/log/podnet.log";

/**
 * The conflist's own version is 1.0.0 so that runtimes whose libcni cannot take a 1.1.0
 * result (Debian's podman and containerd) still load it; runtimes that speak 1.1.0
 * (containerd 1.7+/2.x) pick it from cniVersions and get GC and STATUS.
 */
export const CONFLIST_CNI_VERSION = "1.0.0";
export const CONFLIST_CNI_VERSIONS = ["1.0.0", "1.1.0"] as const;

export interface ConflistOptions {
  readonly clusterCidr: string;
  readonly networkName?: string;
  readonly bridge?: string;
  readonly mtu?: number;
  readonly hairpin?: boolean;
  readonly ipMasq?: boolean;
  /** IPAM store; the lab gives each simulated node its own. */
  readonly dataDir?: string;
  /** Structured per-call log; "" turns it off. */
  readonly logFile?: string;
  /** Chain Debian/upstream portmap after podnet for hostPort support (default true). */
  readonly portmap?: boolean;
}

export interface PodnetPluginConf {
  type: typeof PLUGIN_TYPE;
  subnet: string;
  clusterCidr: string;
  bridge: string;
  mtu: number;
  hairpin: boolean;
  ipMasq: boolean;
  dataDir: string;
  logFile: string;
}

export interface Conflist {
  cniVersion: string;
  cniVersions: string[];
  name: string;
  plugins: Array<PodnetPluginConf | { type: "portmap"; capabilities: { portMappings: true }; snat: boolean }>;
}

export function renderConflist(node: Pick<NodePlan, "podCidr">, options: ConflistOptions): Conflist {
  const podnet: PodnetPluginConf = {
    type: PLUGIN_TYPE,
    subnet: node.podCidr,
    clusterCidr: options.clusterCidr,
    bridge: options.bridge ?? DEFAULT_BRIDGE,
    mtu: options.mtu ?? DEFAULT_MTU,
    hairpin: options.hairpin ?? DEFAULT_HAIRPIN,
    ipMasq: options.ipMasq ?? DEFAULT_IP_MASQ,
    dataDir: options.dataDir ?? DEFAULT_DATA_DIR,
    logFile: options.logFile ?? DEFAULT_LOG_FILE,
  };
  const plugins: Conflist["plugins"] = [podnet];
  if (options.portmap ?? true) {
    plugins.push({ type: "portmap", capabilities: { portMappings: true }, snat: true });
  }
  return {
    cniVersion: CONFLIST_CNI_VERSION,
    cniVersions: [...CONFLIST_CNI_VERSIONS],
    name: options.networkName ?? DEFAULT_NETWORK_NAME,
    plugins,
  };
}

/** The file content as written to CONFLIST_PATH on a node. */
export function renderConflistJson(node: Pick<NodePlan, "podCidr">, options: ConflistOptions): string {
  return `${JSON.stringify(renderConflist(node, options), null, 2)}\n`;
}
