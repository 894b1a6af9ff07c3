// kubeadm configuration files for the control plane and the workers, rendered from plain
// values so they can be unit-tested. Strings are emitted JSON-quoted, which YAML reads as
// the same scalars, so no value can break the document.
import { API_SERVER_PORT } from "../model/ports";
import { KUBERNETES_VERSION_PLACEHOLDER } from "./scripts";

export { API_SERVER_PORT };

export const CRI_SOCKET = "unix:///run/containerd/containerd.sock";
export const CLUSTER_NAME = "podnet";

/** v1beta4 (list-style extraArgs) from Kubernetes 1.31; v1beta3 (map-style) before. */
export function kubeadmApiVersion(kubernetesMinor: number): string {
  return kubernetesMinor >= 31 ? "kubeadm.k8s.io/v1beta4" : "kubeadm.k8s.io/v1beta3";
}

type Args = ReadonlyArray<readonly [string, string]>;

function q(value: string): string {
  return JSON.stringify(value);
}

/** Renders extra arguments in the shape the API version expects, indented under `key:`. */
function extraArgs(key: string, args: Args, kubernetesMinor: number, indent: string): string[] {
  if (args.length === 0) return [];
  if (kubernetesMinor >= 31) {
    return [`${indent}${key}:`, ...args.flatMap(([name, value]) => [`${indent}  - name: ${q(name)}`, `${indent}    value: ${q(value)}`])];
  }
  return [`${indent}${key}:`, ...args.map(([name, value]) => `${indent}  ${q(name)}: ${q(value)}`)];
}

export interface InitConfigInput {
  readonly kubernetesMinor: number;
  /** Node name and hostname: control-plane. */
  readonly nodeName: string;
  readonly privateIp: string;
  /** The public endpoint (the control plane's Elastic IP) the kubeconfig points at. */
  readonly publicIp: string;
  readonly podSubnet: string;
  readonly serviceSubnet: string;
}

/**
 * InitConfiguration + ClusterConfiguration. The controller manager's node CIDR allocation is
 * off: the stack owns every node's pod CIDR (VPC route, conflist, Node.spec.podCIDR).
 * kubernetesVersion is a placeholder the init script fills from the image's kubeadm, so the
 * version deployed is the one whose images the AMI pre-pulled.
 */
export function renderInitConfig(input: InitConfigInput): string {
  const api = kubeadmApiVersion(input.kubernetesMinor);
  const endpoint = `${input.privateIp}:${API_SERVER_PORT}`;
  return [
    `apiVersion: ${api}`,
    "kind: InitConfiguration",
    "localAPIEndpoint:",
    `  advertiseAddress: ${q(input.privateIp)}`,
    `  bindPort: ${API_SERVER_PORT}`,
    "nodeRegistration:",
    `  name: ${q(input.nodeName)}`,
    `  criSocket: ${q(CRI_SOCKET)}`,
    ...extraArgs("kubeletExtraArgs", [["node-ip", input.privateIp]], input.kubernetesMinor, "  "),
    "---",
    `apiVersion: ${api}`,
    "kind: ClusterConfiguration",
    `clusterName: ${q(CLUSTER_NAME)}`,
    `kubernetesVersion: ${q(KUBERNETES_VERSION_PLACEHOLDER)}`,
    `controlPlaneEndpoint: ${q(endpoint)}`,
    "networking:",
    `  podSubnet: ${q(input.podSubnet)}`,
    `  serviceSubnet: ${q(input.serviceSubnet)}`,
    "apiServer:",
    "  certSANs:",
    ...[input.publicIp, input.privateIp, input.nodeName].map((san) => `    - ${q(san)}`),
    "controllerManager:",
    ...extraArgs("extraArgs", [["allocate-node-cidrs", "false"]], input.kubernetesMinor, "  "),
    "",
  ].join("\n");
}

export interface JoinCommand {
  readonly apiServerEndpoint: string;
  readonly token: string;
  readonly caCertHash: string;
}

const TOKEN = /^[a-z0-9]{6}\.[a-z0-9]{16}$/;
const CA_HASH = /^sha256:[0-9a-f]{64}$/;

/** Parses the line `kubeadm token create --print-join-command` prints. */
export function parseJoinCommand(text: string): JoinCommand {
  const line = text.split("\n").map((l) => l.trim()).find((l) => l.startsWith("kubeadm join "));
  if (!line) throw new Error("the control plane printed no `kubeadm join` line; see the join-token command's log");
  const words = line.split(/\s+/);
  const flag = (name: string): string | undefined => {
    const at = words.indexOf(name);
    return at >= 0 ? words[at + 1] : undefined;
  };
  const apiServerEndpoint = words[2];
  const token = flag("--token");
  const caCertHash = flag("--discovery-token-ca-cert-hash");
  if (!apiServerEndpoint || !/^[\w.-]+:\d+$/.test(apiServerEndpoint) || !token || !TOKEN.test(token) || !caCertHash || !CA_HASH.test(caCertHash)) {
    throw new Error("the control plane's `kubeadm join` line is not `kubeadm join HOST:PORT --token T --discovery-token-ca-cert-hash sha256:H`");
  }
  return { apiServerEndpoint, token, caCertHash };
}

export interface JoinConfigInput {
  readonly kubernetesMinor: number;
  readonly nodeName: string;
  readonly privateIp: string;
  readonly join: JoinCommand;
}

/** JoinConfiguration for a worker, named like its plan entry. */
export function renderJoinConfig(input: JoinConfigInput): string {
  return [
    `apiVersion: ${kubeadmApiVersion(input.kubernetesMinor)}`,
    "kind: JoinConfiguration",
    "discovery:",
    "  bootstrapToken:",
    `    apiServerEndpoint: ${q(input.join.apiServerEndpoint)}`,
    `    token: ${q(input.join.token)}`,
    "    caCertHashes:",
    `      - ${q(input.join.caCertHash)}`,
    "nodeRegistration:",
    `  name: ${q(input.nodeName)}`,
    `  criSocket: ${q(CRI_SOCKET)}`,
    ...extraArgs("kubeletExtraArgs", [["node-ip", input.privateIp]], input.kubernetesMinor, "  "),
    "",
  ].join("\n");
}

/** Points a kubeconfig (admin.conf) at the public endpoint; the certificate lists that address. */
export function rewriteKubeconfigServer(kubeconfig: string, publicIp: string): string {
  let replaced = 0;
  const result = kubeconfig.replace(/^(\s*server:\s*)https:\/\/\S+$/gm, (_, prefix: string) => {
    replaced++;
    return `${prefix}https://${publicIp}:${API_SERVER_PORT}`;
  });
  if (replaced === 0) throw new Error("admin.conf has no `server: https://...` line to point at the public endpoint");
  return result;
}
