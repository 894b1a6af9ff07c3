// The Kubernetes objects the real-cluster verification creates, as typed data rendered to
// one JSON List that `kubectl apply -f -` reads (JSON is YAML, so it is also a manifest):
//
//   namespace  podnet-verify-<run>      labelled with the run, deleted at the end of every run
//   web-<node>    on every node, control plane included (tolerating its taint): agnhost
//                 netexec (HTTP /clientip, /hostname, /dial; UDP clientip/hostname), hostPort
//   shell-<node>  a second netexec pod on every worker: the client of most checks
//   host-<node>   netexec in the node's network namespace (hostNetwork) on every node: the
//                 checks that start on a node, and a server on the node that reports the peer
//   Services      web (ClusterIP, TCP) and echo (ClusterIP, UDP), both backed by one web pod
//
// Pure: no kubectl, no Pulumi. The names match the lab's pods (web-worker-1, shell-worker-1).
import { SERVICE_NAMES } from "../model/checks";

/** agnhost, pinned; packer/variables.pkr.hcl's agnhost_image pre-pulls the same tag into the AMI. */
export const AGNHOST_IMAGE = "registry.k8s.io/e2e-test-images/agnhost:2.53";
export const NAMESPACE_PREFIX = "podnet-verify";
/** Every object carries this label, valued with the run id; cleanup selects on it. */
export const RUN_LABEL = "podnet.io/verify-run";
export const ROLE_LABEL = "podnet.io/verify-role";
export const POD_LABEL = "podnet.io/verify-pod";
/** netexec's ports inside the pods. */
export const HTTP_PORT = 8080;
export const UDP_PORT = 8081;
/** The web pods' hostPort (portmap, the conflist's second plugin), as in the lab. */
export const HOST_PORT = 8080;
/** The host pods' netexec, on the node itself: clear of the hostPort and of everything kubeadm runs. */
export const NODE_HTTP_PORT = 18080;
/** The Services' names: the ones the table of checks refers to. */
export const WEB_SERVICE = SERVICE_NAMES.web;
export const ECHO_SERVICE = SERVICE_NAMES.echo;
/** web's port (to HTTP_PORT); echo's is UDP_PORT on both sides. */
export const WEB_SERVICE_PORT = 80;
export const CONTROL_PLANE_TAINT = "node-role.kubernetes.io/control-plane";

export type PodRole = "web" | "shell" | "host";

export interface ObjectMeta {
  name: string;
  namespace?: string;
  labels: Record<string, string>;
}

export interface Toleration {
  key: string;
  operator: "Exists";
  effect: "NoSchedule";
}

export interface ContainerPort {
  name: string;
  containerPort: number;
  protocol: "TCP" | "UDP";
  hostPort?: number;
}

export interface Container {
  name: string;
  image: string;
  imagePullPolicy: "IfNotPresent";
  args: string[];
  ports: ContainerPort[];
  readinessProbe: { httpGet: { path: string; port: number }; periodSeconds: number; failureThreshold: number };
  resources: { requests: { cpu: string; memory: string }; limits: { memory: string } };
}

export interface Pod {
  apiVersion: "v1";
  kind: "Pod";
  metadata: ObjectMeta;
  spec: {
    nodeName: string;
    hostNetwork?: boolean;
    dnsPolicy: "ClusterFirst" | "ClusterFirstWithHostNet";
    tolerations: Toleration[];
    restartPolicy: "Always";
    terminationGracePeriodSeconds: number;
    automountServiceAccountToken: false;
    enableServiceLinks: false;
    containers: Container[];
  };
}

export interface Service {
  apiVersion: "v1";
  kind: "Service";
  metadata: ObjectMeta;
  spec: {
    type: "ClusterIP";
    selector: Record<string, string>;
    ports: Array<{ name: string; port: number; targetPort: number; protocol: "TCP" | "UDP" }>;
  };
}

export interface Namespace {
  apiVersion: "v1";
  kind: "Namespace";
  metadata: ObjectMeta;
}

export interface ManifestNode {
  readonly name: string;
  readonly controlPlane: boolean;
}

export interface ManifestInput {
  /** Short id of this run: the namespace suffix and the value of RUN_LABEL. */
  readonly runId: string;
  readonly nodes: readonly ManifestNode[];
}

export interface Manifests {
  readonly namespace: Namespace;
  readonly pods: readonly Pod[];
  /** web (TCP) and echo (UDP). */
  readonly services: readonly Service[];
  /** The web pod behind both Services. */
  readonly servicePod: string;
}

const RUN_ID = /^[a-z0-9]{1,12}$/;
/** DNS-1123 label: what a pod name must be (63 characters at most). */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export function namespaceOf(runId: string): string {
  return `${NAMESPACE_PREFIX}-${runId}`;
}

export function podName(role: PodRole, node: string): string {
  return `${role}-${node}`;
}

/** The Service's name inside the cluster DNS. */
export function serviceFqdn(name: string, namespace: string, clusterDomain = "cluster.local"): string {
  return `${name}.${namespace}.svc.${clusterDomain}`;
}

function pod(input: ManifestInput, node: ManifestNode, role: PodRole): Pod {
  const name = podName(role, node.name);
  if (!DNS_LABEL.test(name) || name.length > 63)
    throw new Error(`node name ${node.name} does not make a valid pod name (${name})`);
  const host = role === "host";
  const port = host ? NODE_HTTP_PORT : HTTP_PORT;
  const container: Container = {
    name: "agnhost",
    image: AGNHOST_IMAGE,
    imagePullPolicy: "IfNotPresent",
    // On the node, HTTP only: its UDP port would be the node's.
    args: ["netexec", `--http-port=${port}`, `--udp-port=${host ? -1 : UDP_PORT}`],
    ports: [
      { name: "http", containerPort: port, protocol: "TCP", ...(role === "web" ? { hostPort: HOST_PORT } : {}) },
      ...(host ? [] : [{ name: "udp", containerPort: UDP_PORT, protocol: "UDP" as const }]),
    ],
    // netexec's /healthz answers once its UDP server is up; without one it never does.
    readinessProbe: { httpGet: { path: host ? "/hostname" : "/healthz", port }, periodSeconds: 1, failureThreshold: 3 },
    resources: { requests: { cpu: "10m", memory: "16Mi" }, limits: { memory: "64Mi" } },
  };
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name,
      namespace: namespaceOf(input.runId),
      labels: { [RUN_LABEL]: input.runId, [ROLE_LABEL]: role, [POD_LABEL]: name },
    },
    spec: {
      // Pinned, not scheduled: each pod must be on its node or the checks mean nothing.
      nodeName: node.name,
      ...(host ? { hostNetwork: true } : {}),
      dnsPolicy: host ? "ClusterFirstWithHostNet" : "ClusterFirst",
      tolerations: node.controlPlane ? [{ key: CONTROL_PLANE_TAINT, operator: "Exists", effect: "NoSchedule" }] : [],
      restartPolicy: "Always",
      terminationGracePeriodSeconds: 1,
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      containers: [container],
    },
  };
}

/** Every object of one run. The Services are backed by the first worker's web pod (the control plane's without workers). */
export function buildManifests(input: ManifestInput): Manifests {
  if (!RUN_ID.test(input.runId))
    throw new Error(`run id "${input.runId}" must be 1 to 12 lower-case letters and digits`);
  const controlPlanes = input.nodes.filter((n) => n.controlPlane);
  if (controlPlanes.length === 0)
    throw new Error("the cluster has no control-plane node (label node-role.kubernetes.io/control-plane)");
  const names = new Set(input.nodes.map((n) => n.name));
  if (names.size !== input.nodes.length) throw new Error("node names must be unique");
  const namespace = namespaceOf(input.runId);
  const labels = { [RUN_LABEL]: input.runId };
  const workers = input.nodes.filter((n) => !n.controlPlane);
  const pods = [
    ...input.nodes.map((n) => pod(input, n, "web")),
    ...workers.map((n) => pod(input, n, "shell")),
    ...input.nodes.map((n) => pod(input, n, "host")),
  ];
  const servicePod = podName("web", (workers[0] ?? controlPlanes[0]).name);
  const service = (name: string, ports: Service["spec"]["ports"]): Service => ({
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, namespace, labels },
    spec: { type: "ClusterIP", selector: { [RUN_LABEL]: input.runId, [POD_LABEL]: servicePod }, ports },
  });
  return {
    namespace: {
      apiVersion: "v1",
      kind: "Namespace",
      // The host pods need the privileged Pod Security level, whatever the cluster's default is.
      metadata: { name: namespace, labels: { ...labels, "pod-security.kubernetes.io/enforce": "privileged" } },
    },
    pods,
    services: [
      service(WEB_SERVICE, [{ name: "http", port: WEB_SERVICE_PORT, targetPort: HTTP_PORT, protocol: "TCP" }]),
      service(ECHO_SERVICE, [{ name: "udp", port: UDP_PORT, targetPort: UDP_PORT, protocol: "UDP" }]),
    ],
    servicePod,
  };
}

/** One `kind: List` document for `kubectl apply -f -`: the namespace first, so it exists for the rest. */
export function renderManifests(m: Manifests): string {
  return `${JSON.stringify({ apiVersion: "v1", kind: "List", items: [m.namespace, ...m.services, ...m.pods] }, null, 2)}\n`;
}
