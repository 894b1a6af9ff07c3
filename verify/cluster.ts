// The real cluster, as the verification sees it through kubectl: its nodes, the test pods
// of one run (verify/manifests.ts) and the Services, and the namespace's removal. What a
// check does on the cluster (verify/probes.ts) starts from what this module found.
import { formatIPv4, gatewayOf, parseCidr } from "../cni/ipv4";
import { SERVICE_NAMES, type TopoService } from "../model/checks";
import { DNS_PORT } from "../model/ports";
import { firstLine, type Kubectl, must } from "./kubectl";
import {
  buildManifests,
  ECHO_SERVICE,
  namespaceOf,
  type PodRole,
  podName,
  ROLE_LABEL,
  RUN_LABEL,
  renderManifests,
  UDP_PORT,
  WEB_SERVICE,
  WEB_SERVICE_PORT,
} from "./manifests";

export const CONTROL_PLANE_LABEL = "node-role.kubernetes.io/control-plane";
/** How long the test pods get to become Ready (the image is in the AMI; a registry pull takes longer). */
export const POD_READY_TIMEOUT_S = 180;
/** How long removing a namespace may take before the run reports it and moves on. */
export const NAMESPACE_DELETE_TIMEOUT_S = 120;
/** How long the Services' EndpointSlices get to list their Ready pod. */
export const ENDPOINTS_TIMEOUT_S = 60;

export interface NodeInfo {
  readonly name: string;
  readonly controlPlane: boolean;
  /** The node's InternalIP (on AWS its private address). */
  readonly ip: string;
  readonly podCidr: string;
  /** The first address of the pod CIDR, held by the node's bridge. */
  readonly gateway: string;
  readonly ready: boolean;
}

export interface PodInfo {
  readonly name: string;
  readonly role: PodRole;
  readonly node: string;
  readonly ip: string;
}

/** default/kubernetes: the API server's Service, whose name every pod must resolve. */
export const KUBERNETES_SERVICE = "kubernetes";

export interface Deployment {
  readonly runId: string;
  readonly namespace: string;
  readonly nodes: readonly NodeInfo[];
  readonly pods: ReadonlyMap<string, PodInfo>;
  /** web and echo (the run's, backed by one web pod), kube-dns (CoreDNS) and kubernetes. */
  readonly services: readonly TopoService[];
}

// The parts of kubectl's JSON this module reads; everything is optional, as on the wire.
interface Meta {
  name?: string;
  labels?: Record<string, string>;
}
interface Condition {
  type?: string;
  status?: string;
}
interface NodeJson {
  metadata?: Meta;
  spec?: { podCIDR?: string };
  status?: { addresses?: Array<{ type?: string; address?: string }>; conditions?: Condition[] };
}
interface PodJson {
  metadata?: Meta;
  spec?: { nodeName?: string };
  status?: {
    phase?: string;
    podIP?: string;
    conditions?: Condition[];
    containerStatuses?: Array<{ state?: { waiting?: { reason?: string; message?: string } } }>;
  };
}
interface EventJson {
  type?: string;
  reason?: string;
  message?: string;
  involvedObject?: { name?: string };
}
interface SliceJson {
  metadata?: Meta;
  endpoints?: Array<{ addresses?: string[]; conditions?: { ready?: boolean } }>;
}

/** The items of a `kubectl get ... -o json` list. */
function itemsOf<T>(text: string, what: string): T[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error(`kubectl printed no JSON for ${what}: ${firstLine(text)}`);
  }
  const items = (value as { items?: unknown } | null)?.items;
  return Array.isArray(items) ? (items as T[]) : [];
}

const isReady = (conditions: Condition[] | undefined) =>
  (conditions ?? []).some((c) => c.type === "Ready" && c.status === "True");

/** The nodes from `kubectl get nodes -o json`, control plane first, then by name. */
export function parseNodes(text: string): NodeInfo[] {
  const nodes = itemsOf<NodeJson>(text, "nodes").map((item): NodeInfo => {
    const name = String(item.metadata?.name ?? "");
    const ip = (item.status?.addresses ?? []).find((a) => a.type === "InternalIP")?.address;
    const podCidr = item.spec?.podCIDR;
    if (!ip) throw new Error(`Node ${name} has no InternalIP address`);
    if (!podCidr)
      throw new Error(`Node ${name} has no spec.podCIDR: the stack sets it when the node registers (pulumi up)`);
    const ready = isReady(item.status?.conditions);
    const labels = item.metadata?.labels ?? {};
    return {
      name,
      controlPlane: CONTROL_PLANE_LABEL in labels,
      ip: String(ip),
      podCidr: String(podCidr),
      gateway: formatIPv4(gatewayOf(parseCidr(String(podCidr)))),
      ready,
    };
  });
  return nodes.sort(
    (a, b) => Number(b.controlPlane) - Number(a.controlPlane) || a.name.localeCompare(b.name, "en", { numeric: true }),
  );
}

/** The test pods of a run from `kubectl get pods -o json`: name, node and pod IP. */
export function parsePods(text: string): Map<string, PodInfo> {
  const pods = new Map<string, PodInfo>();
  for (const item of itemsOf<PodJson>(text, "pods")) {
    const name = String(item.metadata?.name ?? "");
    const role = item.metadata?.labels?.[ROLE_LABEL] as PodRole | undefined;
    if (!role) continue;
    pods.set(name, { name, role, node: String(item.spec?.nodeName ?? ""), ip: String(item.status?.podIP ?? "") });
  }
  return pods;
}

/** Why pods are not Ready, one line each: the container's waiting reason or the sandbox error. */
export function notReadyReasons(podsJson: string, eventsJson: string): string[] {
  const reasons: string[] = [];
  const events = itemsOf<EventJson>(eventsJson, "events").filter((e) => e.type === "Warning");
  for (const item of itemsOf<PodJson>(podsJson, "pods")) {
    const name = String(item.metadata?.name ?? "");
    if (isReady(item.status?.conditions)) continue;
    const waiting = (item.status?.containerStatuses ?? []).map((s) => s.state?.waiting).find((w) => w);
    const warning = events.filter((e) => e.involvedObject?.name === name).at(-1);
    const why = warning
      ? `${warning.reason}: ${firstLine(String(warning.message ?? ""))}`
      : waiting
        ? `${waiting.reason}: ${firstLine(String(waiting.message ?? ""))}`
        : String(item.status?.phase ?? "unknown");
    reasons.push(`${name} on ${item.spec?.nodeName ?? "?"}: ${why}`);
  }
  return reasons;
}

export async function readNodes(kubectl: Kubectl): Promise<NodeInfo[]> {
  return parseNodes(await must(kubectl, ["get", "nodes", "-o", "json"]));
}

/**
 * Removes every namespace an earlier run left (a crash, a Ctrl-C): one run at a time, since
 * the web pods' hostPort can be held by only one pod per node.
 */
export async function removeRuns(kubectl: Kubectl, selector = RUN_LABEL): Promise<string[]> {
  const found = itemsOf<{ metadata?: Meta }>(
    await must(kubectl, ["get", "namespaces", "-l", selector, "-o", "json"]),
    "namespaces",
  );
  const names = found.map((n) => String(n.metadata?.name));
  if (names.length > 0) {
    await must(
      kubectl,
      [
        "delete",
        "namespace",
        ...names,
        "--ignore-not-found",
        "--wait=true",
        `--timeout=${NAMESPACE_DELETE_TIMEOUT_S}s`,
      ],
      { timeoutMs: (NAMESPACE_DELETE_TIMEOUT_S + 30) * 1000 },
    );
  }
  return names;
}

/** The Services (by name) whose EndpointSlices list `ip` as a ready endpoint. */
export function servicesWithEndpoint(slicesJson: string, ip: string): Set<string> {
  const ready = new Set<string>();
  for (const slice of itemsOf<SliceJson>(slicesJson, "endpointslices")) {
    const service = slice.metadata?.labels?.["kubernetes.io/service-name"];
    const has = (slice.endpoints ?? []).some((e) => e.conditions?.ready === true && (e.addresses ?? []).includes(ip));
    if (service && has) ready.add(String(service));
  }
  return ready;
}

/** Waits until the run's Services list their pod: until then kube-proxy has nothing to send them to. */
async function waitForEndpoints(
  kubectl: Kubectl,
  namespace: string,
  services: readonly string[],
  ip: string,
): Promise<void> {
  const deadline = Date.now() + ENDPOINTS_TIMEOUT_S * 1000;
  for (;;) {
    const ready = servicesWithEndpoint(
      await must(kubectl, ["get", "endpointslices", "-n", namespace, "-o", "json"]),
      ip,
    );
    const missing = services.filter((s) => !ready.has(s));
    if (missing.length === 0) return;
    if (Date.now() > deadline)
      throw new Error(
        `Service ${missing.join(", ")} lists no ready endpoint ${ip} after ${ENDPOINTS_TIMEOUT_S} s (kubectl get endpointslices -n ${namespace})`,
      );
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

/** Creates the run's objects and waits for every pod to be Ready; on timeout the error says why each is not. */
export async function deploy(kubectl: Kubectl, runId: string, nodes: readonly NodeInfo[]): Promise<Deployment> {
  const manifests = buildManifests({ runId, nodes });
  const namespace = namespaceOf(runId);
  await must(kubectl, ["apply", "-f", "-"], { stdin: renderManifests(manifests) });
  const ns = ["-n", namespace];
  const waited = await kubectl.run(
    ["wait", ...ns, "--for=condition=Ready", "pod", "-l", `${RUN_LABEL}=${runId}`, `--timeout=${POD_READY_TIMEOUT_S}s`],
    { timeoutMs: (POD_READY_TIMEOUT_S + 30) * 1000 },
  );
  const podsJson = await must(kubectl, ["get", "pods", ...ns, "-o", "json"]);
  if (waited.status !== 0) {
    const events = await kubectl.run(["get", "events", ...ns, "-o", "json"]);
    const reasons = notReadyReasons(podsJson, events.status === 0 ? events.stdout : "{}");
    throw new Error(
      `test pods not Ready after ${POD_READY_TIMEOUT_S} s:\n${(reasons.length > 0 ? reasons : [firstLine(waited.stderr)]).map((r) => `  ${r}`).join("\n")}`,
    );
  }
  const pods = parsePods(podsJson);
  for (const pod of manifests.pods) {
    const found = pods.get(pod.metadata.name);
    if (!found?.ip) throw new Error(`pod ${pod.metadata.name} is Ready but has no pod IP`);
    if (found.node !== pod.spec.nodeName)
      throw new Error(`pod ${pod.metadata.name} runs on ${found.node}, not ${pod.spec.nodeName}`);
  }
  const clusterIp = async (namespace: string, name: string): Promise<string> => {
    const ip = (
      await must(kubectl, ["get", "service", "-n", namespace, name, "-o", "jsonpath={.spec.clusterIP}"])
    ).trim();
    if (!ip || ip === "None") throw new Error(`Service ${namespace}/${name} has no ClusterIP`);
    return ip;
  };
  const endpoint = manifests.servicePod;
  const endpointPod = pods.get(endpoint);
  if (!endpointPod)
    throw new Error(`the Services' endpoint pod ${endpoint} is not among the run's pods in ${namespace}`);
  await waitForEndpoints(kubectl, namespace, [WEB_SERVICE, ECHO_SERVICE], endpointPod.ip);
  const services: TopoService[] = [
    {
      name: WEB_SERVICE,
      namespace,
      ip: await clusterIp(namespace, WEB_SERVICE),
      port: WEB_SERVICE_PORT,
      protocol: "tcp",
      endpoint,
    },
    {
      name: ECHO_SERVICE,
      namespace,
      ip: await clusterIp(namespace, ECHO_SERVICE),
      port: UDP_PORT,
      protocol: "udp",
      endpoint,
    },
    // CoreDNS, as kubeadm installs it: the Service keeps the name kube-dns.
    {
      name: SERVICE_NAMES.dns,
      namespace: "kube-system",
      ip: await clusterIp("kube-system", SERVICE_NAMES.dns),
      port: DNS_PORT,
      protocol: "udp",
    },
    {
      name: KUBERNETES_SERVICE,
      namespace: "default",
      ip: await clusterIp("default", KUBERNETES_SERVICE),
      port: 443,
      protocol: "tcp",
    },
  ];
  return { runId, namespace, nodes, pods, services };
}

/** A pod of the run by role and node. */
export function podOf(d: Deployment, role: PodRole, node: string): PodInfo {
  const pod = d.pods.get(podName(role, node));
  if (!pod) throw new Error(`no ${role} pod on ${node}`);
  return pod;
}

/** A random run id: 6 lower-case hex digits. */
export function newRunId(): string {
  return Math.floor(Math.random() * 0x1000000)
    .toString(16)
    .padStart(6, "0");
}
