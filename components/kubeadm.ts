// kubeadm configuration files for the control plane and the workers, and the stack's kubeconfig,
// built as typed objects (the fields of kubeadm's own API types) and written by the one YAML
// serializer (yaml.ts), so they can be unit-tested against the field names of each API version.
import { API_SERVER_PORT } from "../model/ports";
import { KUBERNETES_VERSION_PLACEHOLDER } from "./scripts";
import { toYaml, toYamlStream } from "./yaml";

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

/** The kubeadm config API a Kubernetes minor reads. */
export type KubeadmApi = "v1beta3" | "v1beta4";
/** The first minor whose kubeadm reads v1beta4 (list-style extra arguments). */
export const V1BETA4_FROM_MINOR = 31;

/** The one version switch: v1beta4 from Kubernetes 1.31, v1beta3 before. */
export function kubeadmApiOf(kubernetesMinor: number): KubeadmApi {
  return kubernetesMinor >= V1BETA4_FROM_MINOR ? "v1beta4" : "v1beta3";
}

/** The apiVersion every kubeadm document for this minor carries. */
export function kubeadmApiVersion(kubernetesMinor: number): string {
  return `kubeadm.k8s.io/${kubeadmApiOf(kubernetesMinor)}`;
}

// The fields podnet sets, named and shaped as in kubeadm's types.go (cmd/kubeadm/app/apis/kubeadm/v1beta3
// and v1beta4; BootstrapToken from apis/bootstraptoken/v1).

/** v1beta4's Arg; v1beta3 takes the same arguments as a map of name to value. */
export interface Arg {
  readonly name: string;
  readonly value: string;
}
export type ExtraArgs = readonly Arg[] | Readonly<Record<string, string>>;

export interface NodeRegistrationOptions {
  readonly name: string;
  readonly criSocket: string;
  readonly kubeletExtraArgs: ExtraArgs;
}

export interface APIEndpoint {
  readonly advertiseAddress: string;
  readonly bindPort: number;
}

export interface BootstrapToken {
  readonly description: string;
  readonly ttl: string;
}

interface TypeMeta<Kind extends string> {
  readonly apiVersion: string;
  readonly kind: Kind;
}

export interface InitConfiguration extends TypeMeta<"InitConfiguration"> {
  readonly localAPIEndpoint: APIEndpoint;
  readonly nodeRegistration: NodeRegistrationOptions;
  readonly bootstrapTokens: readonly BootstrapToken[];
}

export interface ClusterConfiguration extends TypeMeta<"ClusterConfiguration"> {
  readonly clusterName: string;
  readonly kubernetesVersion: string;
  readonly controlPlaneEndpoint: string;
  readonly networking: { readonly podSubnet: string; readonly serviceSubnet: string };
  readonly apiServer: { readonly certSANs: readonly string[] };
  readonly controllerManager: { readonly extraArgs: ExtraArgs };
}

export interface JoinConfiguration extends TypeMeta<"JoinConfiguration"> {
  readonly discovery: {
    readonly bootstrapToken: {
      readonly apiServerEndpoint: string;
      readonly token: string;
      readonly caCertHashes: readonly string[];
    };
  };
  readonly nodeRegistration: NodeRegistrationOptions;
}

/** Extra arguments in the shape the API version takes: a list of name/value (v1beta4) or a map (v1beta3). */
export function extraArgs(api: KubeadmApi, args: ReadonlyArray<readonly [string, string]>): ExtraArgs {
  return api === "v1beta4" ? args.map(([name, value]) => ({ name, value })) : Object.fromEntries(args);
}

/** How a node registers, on init and on join alike: its plan name, containerd, and its VPC address. */
export function nodeRegistration(api: KubeadmApi, nodeName: string, privateIp: string): NodeRegistrationOptions {
  return { name: nodeName, criSocket: CRI_SOCKET, kubeletExtraArgs: extraArgs(api, [["node-ip", privateIp]]) };
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
export function initConfiguration(input: InitConfigInput): [InitConfiguration, ClusterConfiguration] {
  const api = kubeadmApiOf(input.kubernetesMinor);
  const apiVersion = kubeadmApiVersion(input.kubernetesMinor);
  return [
    {
      apiVersion,
      kind: "InitConfiguration",
      localAPIEndpoint: { advertiseAddress: input.privateIp, bindPort: API_SERVER_PORT },
      nodeRegistration: nodeRegistration(api, input.nodeName, input.privateIp),
      bootstrapTokens: [{ description: INIT_TOKEN_DESCRIPTION, ttl: INIT_TOKEN_TTL }],
    },
    {
      apiVersion,
      kind: "ClusterConfiguration",
      clusterName: CLUSTER_NAME,
      kubernetesVersion: KUBERNETES_VERSION_PLACEHOLDER,
      controlPlaneEndpoint: `${input.privateIp}:${API_SERVER_PORT}`,
      networking: { podSubnet: input.podSubnet, serviceSubnet: input.serviceSubnet },
      apiServer: { certSANs: [input.publicIp, input.privateIp, input.nodeName] },
      controllerManager: { extraArgs: extraArgs(api, [["allocate-node-cidrs", "false"]]) },
    },
  ];
}

/** The init configuration as the file kubeadm init reads. */
export function renderInitConfig(input: InitConfigInput): string {
  return toYamlStream(initConfiguration(input));
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
  const line = text
    .split("\n")
    .map((l) => l.trim())
    .find((l) => l.startsWith("kubeadm join "));
  if (!line) throw new Error("the control plane printed no `kubeadm join` line; see the join-token command's log");
  const words = line.split(/\s+/);
  const flag = (name: string): string | undefined => {
    const at = words.indexOf(name);
    return at >= 0 ? words[at + 1] : undefined;
  };
  const apiServerEndpoint = words[2];
  const token = flag("--token");
  const caCertHash = flag("--discovery-token-ca-cert-hash");
  if (
    !apiServerEndpoint ||
    !/^[\w.-]+:\d+$/.test(apiServerEndpoint) ||
    !token ||
    !TOKEN.test(token) ||
    !caCertHash ||
    !CA_HASH.test(caCertHash)
  ) {
    throw new Error(
      "the control plane's `kubeadm join` line is not `kubeadm join HOST:PORT --token T --discovery-token-ca-cert-hash sha256:H`",
    );
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
export function joinConfiguration(input: JoinConfigInput): JoinConfiguration {
  const { apiServerEndpoint, token, caCertHash } = input.join;
  return {
    apiVersion: kubeadmApiVersion(input.kubernetesMinor),
    kind: "JoinConfiguration",
    discovery: { bootstrapToken: { apiServerEndpoint, token, caCertHashes: [caCertHash] } },
    nodeRegistration: nodeRegistration(kubeadmApiOf(input.kubernetesMinor), input.nodeName, input.privateIp),
  };
}

/** The join configuration as the file kubeadm join reads. */
export function renderJoinConfig(input: JoinConfigInput): string {
  return toYaml(joinConfiguration(input));
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
    if (values.length !== 1)
      throw new Error(`admin.conf has ${values.length} \`${name}\` fields, expected 1; is it kubeadm's admin.conf?`);
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
  const { name, credentials } = input;
  const user = `${name}-admin`;
  return toYaml({
    apiVersion: "v1",
    kind: "Config",
    clusters: [
      {
        name,
        cluster: {
          server: `https://${input.publicIp}:${API_SERVER_PORT}`,
          "certificate-authority-data": credentials.certificateAuthorityData,
        },
      },
    ],
    users: [
      {
        name: user,
        user: {
          "client-certificate-data": credentials.clientCertificateData,
          "client-key-data": credentials.clientKeyData,
        },
      },
    ],
    contexts: [{ name, context: { cluster: name, user } }],
    "current-context": name,
    preferences: {},
  });
}
