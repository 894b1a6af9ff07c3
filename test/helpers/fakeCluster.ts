// A kubeadm cluster as kubectl shows it, for testing the verifier offline: the nodes the
// stack makes, what `kubectl apply` of the test manifests creates, and what the tools in the
// agnhost image print inside a pod (the recorded formats of test/verify-agnhost.test.ts).
// The network behaves as a healthy podnet cluster does (kube-proxy in iptables mode) unless
// told to break one thing, the way a wrong security group, route or rule would.
import type { Kubectl, KubectlResult } from "../../verify/kubectl";

export type Break =
  /** Pod traffic between nodes is dropped (no VPC route, source/dest check on, SG without the pod CIDR). */
  | "cross-node-pods"
  /** Pods reach the internet unmasqueraded: the internet gateway drops them. */
  | "masquerade"
  /** CoreDNS does not answer. */
  | "dns"
  /** The hairpin's masquerade is missing: the backing pod cannot reach its own Service. */
  | "hairpin"
  /** The test pods never become Ready (the CNI ADD fails). */
  | "sandbox";

export interface FakeNode {
  readonly name: string;
  readonly ip: string;
  readonly publicIp: string;
  readonly podCidr: string;
  readonly ready: boolean;
}

interface FakePod {
  name: string;
  namespace: string;
  labels: Record<string, string>;
  node: string;
  ip: string;
  hostNetwork: boolean;
}

export interface FakeState {
  nodes: FakeNode[];
  breaks: Break[];
  namespaces: Array<{ name: string; labels: Record<string, string> }>;
  pods: FakePod[];
  services: Array<{ name: string; namespace: string; ip: string; selector: Record<string, string> }>;
}

/** The stack's default cluster: the control plane and `workers` workers, addresses as the mocks give them. */
export function fakeState(workers: number, breaks: Break[] = []): FakeState {
  const nodes: FakeNode[] = [
    { name: "control-plane", ip: "10.0.1.10", publicIp: "203.0.113.10", podCidr: "10.244.0.0/24", ready: true },
  ];
  for (let i = 1; i <= workers; i++)
    nodes.push({
      name: `worker-${i}`,
      ip: `10.0.1.${10 + i}`,
      publicIp: `198.51.100.${10 + i}`,
      podCidr: `10.244.${i}.0/24`,
      ready: true,
    });
  return {
    nodes,
    breaks,
    namespaces: [
      { name: "default", labels: {} },
      { name: "kube-system", labels: {} },
    ],
    pods: [],
    services: [
      { name: "kubernetes", namespace: "default", ip: "10.96.0.1", selector: {} },
      { name: "kube-dns", namespace: "kube-system", ip: "10.96.0.10", selector: {} },
    ],
  };
}

const ok = (stdout: string): KubectlResult => ({ status: 0, stdout, stderr: "" });
const fail = (status: number, stderr: string, stdout = ""): KubectlResult => ({ status, stdout, stderr });
const CURL_TIMEOUT = (s: string) =>
  fail(28, `curl: (28) Connection timed out after ${Number(s) * 1000 + 2} milliseconds\n`);
const gatewayOf = (cidr: string) => cidr.replace(/\.0\/\d+$/, ".1");

function flag(args: readonly string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

/** One kubectl call against the state (which it may change). */
export function answer(state: FakeState, args: readonly string[], stdin = ""): KubectlResult {
  const a = args.filter((x) => !x.startsWith("--kubeconfig="));
  const [verb, kind] = a;
  if (verb === "get" && kind === "nodes")
    return ok(JSON.stringify({ kind: "NodeList", items: state.nodes.map(nodeJson) }));
  if (verb === "get" && kind === "namespaces") {
    const label = flag(a, "-l")!;
    return ok(
      JSON.stringify({
        items: state.namespaces
          .filter((n) => label in n.labels)
          .map((n) => ({ metadata: { name: n.name, labels: n.labels } })),
      }),
    );
  }
  if (verb === "delete" && kind === "namespace") {
    const names = a.slice(2).filter((x) => !x.startsWith("--"));
    state.namespaces = state.namespaces.filter((n) => !names.includes(n.name));
    state.pods = state.pods.filter((p) => !names.includes(p.namespace));
    state.services = state.services.filter((s) => !names.includes(s.namespace));
    return ok(names.map((n) => `namespace "${n}" deleted\n`).join(""));
  }
  if (verb === "apply") return apply(state, stdin);
  const ns = flag(a, "-n") ?? "default";
  if (verb === "wait") {
    const notReady = state.breaks.includes("sandbox")
      ? state.pods.filter((p) => p.namespace === ns && !p.hostNetwork)
      : [];
    return notReady.length === 0
      ? ok("")
      : fail(1, `error: timed out waiting for the condition on pods/${notReady[0]!.name}\n`);
  }
  if (verb === "get" && kind === "pods")
    return ok(JSON.stringify({ items: state.pods.filter((p) => p.namespace === ns).map((p) => podJson(state, p)) }));
  if (verb === "get" && kind === "events") return ok(JSON.stringify({ items: eventsOf(state, ns) }));
  if (verb === "get" && kind === "endpointslices") return ok(JSON.stringify({ items: slicesOf(state, ns) }));
  if (verb === "get" && kind === "service") {
    const svc = state.services.find((s) => s.namespace === ns && s.name === a[4]);
    return svc ? ok(svc.ip) : fail(1, `Error from server (NotFound): services "${a[4]}" not found\n`);
  }
  if (verb === "exec") return exec(state, ns, a[a.indexOf("-n") + 2]!, a.slice(a.indexOf("--") + 1));
  return fail(1, `fake kubectl: unsupported ${a.join(" ")}\n`);
}

function nodeJson(n: FakeNode) {
  return {
    metadata: {
      name: n.name,
      labels: {
        "kubernetes.io/hostname": n.name,
        ...(n.name === "control-plane" ? { "node-role.kubernetes.io/control-plane": "" } : {}),
      },
    },
    spec: { podCIDR: n.podCidr, podCIDRs: [n.podCidr] },
    status: {
      addresses: [
        { type: "InternalIP", address: n.ip },
        { type: "Hostname", address: n.name },
      ],
      conditions: [
        { type: "MemoryPressure", status: "False" },
        { type: "Ready", status: n.ready ? "True" : "False", reason: n.ready ? "KubeletReady" : "KubeletNotReady" },
      ],
    },
  };
}

function podJson(state: FakeState, p: FakePod) {
  const ready = p.hostNetwork || !state.breaks.includes("sandbox");
  return {
    metadata: { name: p.name, namespace: p.namespace, labels: p.labels },
    spec: { nodeName: p.node, hostNetwork: p.hostNetwork || undefined },
    status: {
      phase: ready ? "Running" : "Pending",
      ...(ready ? { podIP: p.ip } : {}),
      conditions: [{ type: "Ready", status: ready ? "True" : "False" }],
      containerStatuses: [
        { name: "agnhost", ready, state: ready ? { running: {} } : { waiting: { reason: "ContainerCreating" } } },
      ],
    },
  };
}

function eventsOf(state: FakeState, ns: string) {
  if (!state.breaks.includes("sandbox")) return [];
  return state.pods
    .filter((p) => p.namespace === ns && !p.hostNetwork)
    .map((p) => ({
      type: "Warning",
      reason: "FailedCreatePodSandBox",
      involvedObject: { kind: "Pod", name: p.name },
      message: `Failed to create pod sandbox: rpc error: code = Unknown desc = failed to setup network for sandbox "4f1c": plugin type="podnet" failed (add): podnet: no IPv4 address left in ${state.nodes.find((n) => n.name === p.node)!.podCidr}`,
    }));
}

/** One EndpointSlice per Service of the namespace, as the EndpointSlice controller writes them. */
function slicesOf(state: FakeState, ns: string) {
  return state.services
    .filter((svc) => svc.namespace === ns)
    .map((svc) => ({
      metadata: {
        name: `${svc.name}-x7k2p`,
        labels: {
          "kubernetes.io/service-name": svc.name,
          "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
        },
      },
      addressType: "IPv4",
      endpoints: state.pods
        .filter((p) => Object.entries(svc.selector).every(([k, v]) => p.labels[k] === v))
        .map((p) => ({
          addresses: [p.ip],
          conditions: { ready: !state.breaks.includes("sandbox"), serving: true, terminating: false },
          nodeName: p.node,
        })),
    }));
}

function apply(state: FakeState, stdin: string): KubectlResult {
  const list = JSON.parse(stdin) as { items: any[] };
  const out: string[] = [];
  let serviceIp = 50;
  for (const item of list.items) {
    const { name, namespace, labels } = item.metadata;
    if (item.kind === "Namespace") {
      state.namespaces.push({ name, labels });
    } else if (item.kind === "Service") {
      state.services.push({ name, namespace, ip: `10.96.0.${serviceIp++}`, selector: item.spec.selector });
    } else if (item.kind === "Pod") {
      if (!state.namespaces.some((n) => n.name === namespace))
        return fail(1, `Error from server (NotFound): namespaces "${namespace}" not found\n`);
      const node = state.nodes.find((n) => n.name === item.spec.nodeName)!;
      const host = item.spec.hostNetwork === true;
      const onNode = state.pods.filter((p) => p.node === node.name && !p.hostNetwork).length;
      state.pods.push({
        name,
        namespace,
        labels,
        node: node.name,
        hostNetwork: host,
        ip: host ? node.ip : node.podCidr.replace(/\.0\/\d+$/, `.${2 + onNode}`),
      });
    }
    out.push(`${item.kind.toLowerCase()}/${name} created`);
  }
  return ok(`${out.join("\n")}\n`);
}

type Target = { agent: string; node: string; self?: FakePod; viaService: boolean };

/** Where a TCP/UDP connection to host:port lands, as kube-proxy and portmap would send it. */
function target(state: FakeState, ns: string, host: string, port: number, protocol: "tcp" | "udp"): Target | undefined {
  const svc = state.services.find((s) => s.ip === host && s.namespace === ns);
  if (svc) {
    const want = protocol === "tcp" ? svc.name === "web" && port === 80 : svc.name === "echo" && port === 8081;
    const pod = state.pods.find((p) => Object.entries(svc.selector).every(([k, v]) => p.labels[k] === v));
    return want && pod ? { agent: pod.name, node: pod.node, self: pod, viaService: true } : undefined;
  }
  const pod = state.pods.find((p) => !p.hostNetwork && p.ip === host);
  if (pod)
    return port === 8080 || (protocol === "udp" && port === 8081)
      ? { agent: pod.name, node: pod.node, self: pod, viaService: false }
      : undefined;
  const node = state.nodes.find((n) => n.ip === host || gatewayOf(n.podCidr) === host);
  if (!node) return undefined;
  if (port === 18080) return { agent: node.name, node: node.name, viaService: false };
  const web = state.pods.find((p) => p.node === node.name && p.name.startsWith("web-"));
  return port === 8080 && node.ip === host && web
    ? { agent: web.name, node: node.name, self: web, viaService: false }
    : undefined;
}

/** The source address the far end sees, or undefined when the packet is dropped. */
function peerOf(state: FakeState, from: FakePod, to: Target): string | undefined {
  const fromNode = state.nodes.find((n) => n.name === from.node)!;
  if (from.hostNetwork) return to.node === from.node && !to.viaService ? gatewayOf(fromNode.podCidr) : fromNode.ip;
  if (to.viaService && to.self?.name === from.name)
    return state.breaks.includes("hairpin") ? undefined : gatewayOf(fromNode.podCidr);
  if (to.node !== from.node && state.breaks.includes("cross-node-pods")) return undefined;
  return from.ip;
}

/** Go's json.Marshal escapes <, > and & as \u003c, \u003e, \u0026. */
function goJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, "\\u003c").replace(/>/g, "\\u003e").replace(/&/g, "\\u0026");
}

function exec(state: FakeState, ns: string, podName: string, argv: readonly string[]): KubectlResult {
  const from = state.pods.find((p) => p.namespace === ns && p.name === podName);
  if (!from) return fail(1, `Error from server (NotFound): pods "${podName}" not found\n`);
  const fromNode = state.nodes.find((n) => n.name === from.node)!;
  const [tool] = argv;
  if (tool === "ping") {
    const ip = argv.at(-1)!;
    const up = ip === gatewayOf(fromNode.podCidr);
    const head = `PING ${ip} (${ip}): 56 data bytes\n`;
    return up
      ? ok(
          `${head}64 bytes from ${ip}: seq=0 ttl=64 time=0.081 ms\n\n--- ${ip} ping statistics ---\n1 packets transmitted, 1 packets received, 0% packet loss\nround-trip min/avg/max = 0.081/0.081/0.081 ms\n`,
        )
      : fail(
          1,
          "",
          `${head}\n--- ${ip} ping statistics ---\n1 packets transmitted, 0 packets received, 100% packet loss\n`,
        );
  }
  if (tool === "dig") {
    const name = argv.at(-2)!;
    if (state.breaks.includes("dns") && fromNode.name !== "control-plane")
      return fail(
        9,
        "",
        ";; communications error to 10.96.0.10#53: timed out\n;; communications error to 10.96.0.10#53: timed out\n;; no servers could be reached\n",
      );
    const svc =
      name === "kubernetes.default.svc.cluster.local"
        ? state.services.find((s) => s.name === "kubernetes")
        : state.services.find((s) => s.name === name && s.namespace === ns);
    return ok(svc ? `${svc.ip}\n` : "");
  }
  if (tool !== "curl")
    return fail(
      126,
      `OCI runtime exec failed: exec failed: unable to start container process: exec: "${tool}": executable file not found in $PATH: unknown\n`,
    );
  const urls = argv.filter((x) => /^https?:\/\//.test(x));
  const maxTime = argv[argv.indexOf("--max-time") + 1]!;
  if (urls[0] === "https://checkip.amazonaws.com") {
    if (state.breaks.includes("masquerade") && !from.hostNetwork) return CURL_TIMEOUT(maxTime);
    return ok(`${fromNode.publicIp}\n`);
  }
  const bodies: string[] = [];
  for (const url of urls) {
    const u = new URL(url);
    if (u.pathname === "/dial") {
      const q = u.searchParams;
      const to = target(state, ns, q.get("host")!, Number(q.get("port")), "udp");
      const peer = to && peerOf(state, from, to);
      bodies.push(
        to && peer
          ? JSON.stringify({ responses: [q.get("request") === "hostname" ? to.agent : `${peer}:41234`] })
          : goJson({
              errors: [
                `reading from udp connection failed. err:'read udp ${from.ip}:41234->${q.get("host")}:${q.get("port")}: i/o timeout'`,
              ],
            }),
      );
      continue;
    }
    const to = target(state, ns, u.hostname, Number(u.port || 80), "tcp");
    const peer = to && peerOf(state, from, to);
    if (!to || !peer) return { ...CURL_TIMEOUT(maxTime), stdout: bodies.map((b) => `${b}\n`).join("") };
    bodies.push(u.pathname === "/hostname" ? to.agent : `${peer}:${40000 + bodies.length}`);
  }
  return ok(bodies.map((b) => `${b}\n`).join(""));
}

/** The fake as the verifier's Kubectl, recording every call. */
export class FakeKubectl implements Kubectl {
  readonly calls: string[][] = [];
  constructor(readonly state: FakeState) {}

  async run(args: readonly string[], options: { stdin?: string } = {}): Promise<KubectlResult> {
    this.calls.push([...args]);
    return answer(this.state, args, options.stdin);
  }
}
