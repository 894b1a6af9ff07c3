// kubeadm configuration files for the control plane and the workers, rendered from plain
// values so they can be unit-tested. Strings are emitted JSON-quoted, which YAML reads as
// the same scalars, so no value can break the document.
import { API_SERVER_PORT } from "../model/ports";
import { KUBERNETES_VERSION_PLACEHOLDER } from "./scripts";

export { API_SERVER_PORT };

export const CRI_SOCKET = "unix:///run/containerd/containerd.sock";
export const CLUSTER_NAME = "podnet";
/**
 * kubeadm init always makes a bootstrap token (24 h by default). Workers get their own
 * tokens later (scripts.ts joinTokenScript), so init's is short-lived and labelled by this
 * description, and the init script deletes it as soon as init is done.
 */
export const INIT_TOKEN_DESCRIPTION = "podnet: made by kubeadm init, deleted when init is done";
export const INIT_TOKEN_TTL = "10m";

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
    "bootstrapTokens:",
    `  - description: ${q(INIT_TOKEN_DESCRIPTION)}`,
    `    ttl: ${q(INIT_TOKEN_TTL)}`,
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

/** The credentials in kubeadm's admin.conf (base64 PEM, as kubeconfig files carry them). */
export interface AdminCredentials {
  readonly certificateAuthorityData: string;
  readonly clientCertificateData: string;
  readonly clientKeyData: string;
}

/** Reads the CA and the admin's client certificate and key out of admin.conf. */
export function parseAdminConf(kubeconfig: string): AdminCredentials {
  const field = (name: string): string => {
    const values = [...kubeconfig.matchAll(new RegExp(`^\\s*${name}:\\s*(\\S+)\\s*$`, "gm"))].map((m) => m[1]);
    if (values.length !== 1) throw new Error(`admin.conf has ${values.length} \`${name}\` fields, expected 1; is it kubeadm's admin.conf?`);
    return values[0];
  };
  return {
    certificateAuthorityData: field("certificate-authority-data"),
    clientCertificateData: field("client-certificate-data"),
    clientKeyData: field("client-key-data"),
  };
}

export interface KubeconfigInput {
  /** Cluster and context name, e.g. "<project>-<stack>"; the user is "<name>-admin". */
  readonly name: string;
  /** The public endpoint (the control plane's Elastic IP); the API certificate lists it. */
  readonly publicIp: string;
  readonly credentials: AdminCredentials;
}

/**
 * The stack's kubeconfig: admin.conf's credentials, the public endpoint, and names of its
 * own, so kubeconfigs of several stacks merge without clashing (admin.conf names every
 * cluster's context kubernetes-admin@<clusterName>).
 */
export function renderKubeconfig(input: KubeconfigInput): string {
  const user = `${input.name}-admin`;
  return [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    "  - name: " + q(input.name),
    "    cluster:",
    `      server: ${q(`https://${input.publicIp}:${API_SERVER_PORT}`)}`,
    `      certificate-authority-data: ${q(input.credentials.certificateAuthorityData)}`,
    "users:",
    `  - name: ${q(user)}`,
    "    user:",
    `      client-certificate-data: ${q(input.credentials.clientCertificateData)}`,
    `      client-key-data: ${q(input.credentials.clientKeyData)}`,
    "contexts:",
    `  - name: ${q(input.name)}`,
    "    context:",
    `      cluster: ${q(input.name)}`,
    `      user: ${q(user)}`,
    `current-context: ${q(input.name)}`,
    "preferences: {}",
    "",
  ].join("\n");
}
