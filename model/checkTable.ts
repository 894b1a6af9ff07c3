// Every check the lab (and the real-cluster verification) proves, declared once: its name,
// its ends, what must be seen and the seed lab step it reproduces. The docs' table of checks
// is rendered from this list (renderChecksMarkdown), and a test fails when they differ.
import {
  type Actor,
  type Case,
  type CheckSpec,
  type Probe,
  SERVICE_NAMES,
  type Topology,
  type TopoNode,
  type TopoPod,
  type TopoService,
} from "./checks";

const pod = (name: string): Actor => ({ kind: "pod", name });
const node = (name: string): Actor => ({ kind: "node", name });

function workers(t: Topology): readonly TopoNode[] {
  return t.nodes.filter((n) => n.role === "worker");
}

function controlPlane(t: Topology): TopoNode | undefined {
  return t.nodes.find((n) => n.role === "control-plane");
}

function podOf(t: Topology, role: TopoPod["role"], nodeName: string): TopoPod | undefined {
  return t.pods.find((p) => p.role === role && p.node === nodeName);
}

function service(t: Topology, name: string): TopoService | undefined {
  return t.services.find((s) => s.name === name);
}

function tcpTo(label: string, host: string, port: number): Probe {
  return { kind: "tcp", label, host, port };
}

function serviceProbe(s: TopoService): Probe {
  return { kind: s.protocol, label: `svc ${s.name}`, host: s.ip, port: s.port };
}

/** For each worker, the case `make` builds from it (none where it returns undefined). */
function perWorker(t: Topology, make: (w: TopoNode, i: number, all: readonly TopoNode[]) => Case | undefined): Case[] {
  const ws = workers(t);
  return ws.map((w, i) => make(w, i, ws)).filter((c): c is Case => c !== undefined);
}

/** shell-N -> web-(N+1): the cross-node pod path, one case per worker. */
function crossNodePods(t: Topology, fail: boolean): Case[] {
  return perWorker(t, (w, i, ws) => {
    const client = podOf(t, "shell", w.name);
    const server = podOf(t, "web", ws[(i + 1) % ws.length].name);
    if (!client || !server || server.node === w.name) return undefined;
    return {
      from: pod(client.name),
      probe: tcpTo(server.name, server.ip, server.port),
      expect: fail ? { fail } : { peer: client.ip },
    };
  });
}

/** Every pod resolves the web service's name through the cluster DNS service (optionally only pods on/off DNS's node). */
function dnsCases(t: Topology, where: "all" | "same node" | "other node", fail = false): Case[] {
  const web = service(t, SERVICE_NAMES.web);
  const dns = service(t, SERVICE_NAMES.dns);
  if (!web || !dns) return [];
  const dnsNode = t.pods.find((p) => p.name === dns.endpoint)?.node;
  const pods = t.pods.filter(
    (p) => where === "all" || (where === "same node" ? p.node === dnsNode : p.node !== dnsNode),
  );
  const probe: Probe = { kind: "dns", label: `"${web.name}" via ${dns.name} ${dns.ip}:${dns.port}`, name: web.name };
  return pods.map((p) => ({ from: pod(p.name), probe, expect: fail ? { fail } : { addresses: [web.ip] } }));
}

/** A service from a pod on the endpoint's node or on another node. */
function serviceFromPod(
  t: Topology,
  name: string,
  where: "same node" | "other node",
  role: TopoPod["role"] = "shell",
): Case[] {
  const s = service(t, name);
  const backing = t.pods.find((p) => p.name === s?.endpoint);
  if (!s || !backing) return [];
  const client = t.pods.find(
    (p) => p.role === role && (where === "same node" ? p.node === backing.node : p.node !== backing.node),
  );
  if (!client) return [];
  return [{ from: pod(client.name), probe: serviceProbe(s), expect: { agent: backing.name, peer: client.ip } }];
}

function hairpin(t: Topology, fail: boolean): Case[] {
  const s = service(t, SERVICE_NAMES.web);
  const backing = t.pods.find((p) => p.name === s?.endpoint);
  const home = t.nodes.find((n) => n.name === backing?.node);
  if (!s || !backing || !home) return [];
  return [
    {
      from: pod(backing.name),
      probe: serviceProbe(s),
      expect: fail ? { fail } : { agent: backing.name, peer: home.gateway },
    },
  ];
}

/** SSH and the API server on the control plane, from an outside address. */
function adminPorts(t: Topology, from: "admin" | "internet"): Case[] {
  const cp = controlPlane(t);
  if (!cp || !t[from]) return [];
  const expect = from === "admin" ? {} : { fail: true };
  return [
    { from: { kind: "outside", name: from }, probe: tcpTo(`SSH ${cp.name}`, cp.ip, t.sshPort), expect },
    { from: { kind: "outside", name: from }, probe: tcpTo(`API ${cp.name}`, cp.ip, t.apiServerPort), expect },
  ];
}

/** The lifecycle rows' names: the lab runs these itself (CNI CHECK, DEL and re-ADD) and reports under them. */
export const LIFECYCLE_ROWS = {
  cniCheck: "CNI CHECK (conflist)",
  del: "CNI DEL every pod",
  ipamEmpty: "IPAM empty after DEL",
  noVeth: "no pn* veth after DEL",
  readd: "re-ADD gets a clean address",
} as const;

const SEED_CROSS_NODE =
  '000 "Ping a Pod on a Different Node" and "Setting Up Routing for Inter-Node Pod Communication"; 002 "Inter Pod Communication between different nodes"';
const SEED_004_DNS =
  "004 \"Understand CoreDNS\": `host airflow-web` times out until the nodes' security groups admit each other's pods";

export const CHECK_TABLE: readonly CheckSpec[] = [
  {
    group: "pod -> its gateway (ICMP)",
    from: "every pod",
    to: "cni0 of its node",
    must: "ping answers",
    seed: '000 "Ping the Host from Within the Pod"; 002 "the only thing that actually works is pod to host"',
    cases: (t) =>
      t.pods.flatMap((p) => {
        const n = t.nodes.find((x) => x.name === p.node);
        return n
          ? [
              {
                from: pod(p.name),
                probe: { kind: "icmp" as const, label: `cni0 ${n.name}`, host: n.gateway },
                expect: {},
              },
            ]
          : [];
      }),
  },
  {
    group: "pod -> its gateway (TCP)",
    from: "every pod",
    to: "its node :10250 on cni0",
    must: "the node sees the pod's own IP",
    seed: "000/002, as above",
    cases: (t) =>
      t.pods.flatMap((p) => {
        const n = t.nodes.find((x) => x.name === p.node);
        return n
          ? [{ from: pod(p.name), probe: tcpTo(`cni0 ${n.name}`, n.gateway, t.nodePort), expect: { peer: p.ip } }]
          : [];
      }),
  },
  {
    group: "pod -> pod, same node",
    from: "shell-worker-N",
    to: "web-worker-N",
    must: "the server sees the shell pod's IP",
    seed: '000 "Ping Another Pod on the Same Node" and "Fixing Pod-to-Pod Communication within the Same Host" (podnet\'s `PODNET-FORWARD`); 002 same',
    cases: (t) =>
      perWorker(t, (w) => {
        const client = podOf(t, "shell", w.name);
        const server = podOf(t, "web", w.name);
        return client && server
          ? { from: pod(client.name), probe: tcpTo(server.name, server.ip, server.port), expect: { peer: client.ip } }
          : undefined;
      }),
  },
  {
    group: "pod -> pod, other node",
    from: "shell-worker-N",
    to: "web-worker-N+1",
    must: "through the VPC route; the server sees the **client pod's own IP**, not masqueraded",
    seed: `${SEED_CROSS_NODE}; 002 \`aws_route.pod_routes\``,
    cases: (t) => crossNodePods(t, false),
  },
  {
    group: "pod -> internet (masqueraded)",
    from: "shell-worker-N",
    to: "the internet server",
    must: "the server sees **the node's IP**, not the pod's and not the router's",
    seed: '000/002 "Fixing External Access Using NAT" (podnet\'s `PODNET-POSTROUTING`)',
    cases: (t) => {
      const inet = t.internet;
      if (!inet) return [];
      return perWorker(t, (w) => {
        const client = podOf(t, "shell", w.name);
        return client
          ? { from: pod(client.name), probe: tcpTo("internet", inet.ip, inet.port), expect: { peer: w.ip } }
          : undefined;
      });
    },
  },
  {
    group: "node -> pod, same node",
    from: "worker-N",
    to: "web-worker-N",
    must: "the pod sees cni0's address",
    seed: '000 "Why Host Communication Works"',
    cases: (t) =>
      perWorker(t, (w) => {
        const server = podOf(t, "web", w.name);
        return server
          ? { from: node(w.name), probe: tcpTo(server.name, server.ip, server.port), expect: { peer: w.gateway } }
          : undefined;
      }),
  },
  {
    group: "node -> pod, other node",
    from: "control plane",
    to: "every web pod",
    must: "through the VPC route; the pod sees the control plane's IP",
    seed: "003 step 10f (the node to the pods)",
    cases: (t) => {
      const cp = controlPlane(t);
      if (!cp) return [];
      return perWorker(t, (w) => {
        const server = podOf(t, "web", w.name);
        return server
          ? { from: node(cp.name), probe: tcpTo(server.name, server.ip, server.port), expect: { peer: cp.ip } }
          : undefined;
      });
    },
  },
  {
    group: "hostPort (portmap)",
    from: "control plane",
    to: "worker-N IP:8080",
    must: "lands in that worker's web pod, which sees the control plane's IP",
    seed: "the conflist's second plugin (not in the labs)",
    cases: (t) => {
      const cp = controlPlane(t);
      const hostPort = t.webHostPort;
      if (!cp || hostPort === undefined) return [];
      return perWorker(t, (w) => {
        const server = podOf(t, "web", w.name);
        return server
          ? { from: node(cp.name), probe: tcpTo(w.name, w.ip, hostPort), expect: { agent: server.name, peer: cp.ip } }
          : undefined;
      });
    },
  },
  {
    group: "service from pod, same node",
    from: "shell pod on the endpoint's node",
    to: "svc web (ClusterIP, TCP)",
    must: "answered by web-worker-1, which sees the client pod's IP",
    seed: '003 step 10a-e (services chain, PREROUTING jump, DNAT), 10f "from pod-1 to service-2"',
    cases: (t) => serviceFromPod(t, SERVICE_NAMES.web, "same node"),
  },
  {
    group: "service from pod, other node",
    from: "shell pod on another node",
    to: "svc web",
    must: "answered by web-worker-1, which sees the client pod's IP",
    seed: "003 step 10f",
    cases: (t) => serviceFromPod(t, SERVICE_NAMES.web, "other node"),
  },
  {
    group: "service from a node (OUTPUT)",
    from: "control plane",
    to: "svc web",
    must: "answered by web-worker-1, which sees the control plane's IP",
    seed: '003 step 10b "if you don\'t add the nat-OUTPUT rule, connection from the host to the service IP fails"',
    cases: (t) => {
      const s = service(t, SERVICE_NAMES.web);
      const cp = controlPlane(t);
      return s && cp && s.endpoint
        ? [{ from: node(cp.name), probe: serviceProbe(s), expect: { agent: s.endpoint, peer: cp.ip } }]
        : [];
    },
  },
  {
    group: "service hairpin (backing pod)",
    from: "web-worker-1",
    to: "svc web (itself)",
    must: "reaches itself; it sees the connection come from its gateway",
    seed: '003\'s closing "pod-1 and pod-2 are unable to connect to themselves using the service IP"',
    cases: (t) => hairpin(t, false),
  },
  {
    group: "UDP service from pod, other node",
    from: "shell pod on another node",
    to: "svc echo (ClusterIP, UDP)",
    must: "the echo server in web-worker-1 answers and sees the **client pod's own IP** (UDP DNAT and conntrack across nodes)",
    seed: "003 step 10 for UDP, the path cluster DNS takes",
    cases: (t) => serviceFromPod(t, SERVICE_NAMES.echo, "other node"),
  },
  {
    group: "DNS: pod resolves a service (UDP)",
    from: "every pod",
    to: "svc kube-dns, the 10th address of serviceCidr",
    must: "`web` (through the pod's resolv.conf search path, as kubelet writes it) resolves to svc web's ClusterIP",
    seed: `${SEED_004_DNS} (after the fix)`,
    cases: (t) => dnsCases(t, "all"),
  },
  {
    group: "SSH and API server from admin",
    from: "the admin address (in adminCidrs)",
    to: "control plane :22 and :6443",
    must: "connects (the security group's admin rules)",
    seed: "the stack's security group (podnet:adminCidrs)",
    cases: (t) => adminPorts(t, "admin"),
  },
  {
    group: "SSH and API server from internet",
    from: "the internet (not in adminCidrs)",
    to: "control plane :22 and :6443",
    must: "**no connection**: the security group drops it",
    seed: 'the stack\'s security group; 004 "Security groups for your VPC"',
    cases: (t) => adminPorts(t, "internet"),
  },
  {
    group: "admin to another port",
    from: "the admin address",
    to: "control plane :10250",
    must: "**no connection**: the admin rules open SSH and the API server only",
    seed: "the stack's security group (podnet:adminCidrs)",
    cases: (t) => {
      const cp = controlPlane(t);
      return cp && t.admin
        ? [
            {
              from: { kind: "outside", name: "admin" },
              probe: tcpTo(`kubelet ${cp.name}`, cp.ip, t.nodePort),
              expect: { fail: true },
            },
          ]
        : [];
    },
  },
  {
    group: "hairpin without MARK-MASQ",
    from: "web-worker-1",
    to: "svc web (itself)",
    must: "with the mark rule removed, **no connection** (negative control: the hairpin row depends on the SNAT)",
    seed: "the same 003 step",
    once: true,
    under: "hairpin-masq-off",
    cases: (t) => hairpin(t, true),
  },
  {
    group: "SG without pod CIDR: pod -> pod, other node",
    from: "shell-worker-N",
    to: "web-worker-N+1",
    must: "with the pod-CIDR rule removed from the node security group, **no connection** (negative control)",
    seed: `004 "Security groups for your VPC": instances' groups must admit each other's traffic; ${SEED_CROSS_NODE}`,
    once: true,
    under: "sg-without-pod-cidr",
    cases: (t) => crossNodePods(t, true),
  },
  {
    group: "SG without pod CIDR: DNS from other node",
    from: "every pod on a node without the DNS pod",
    to: "svc kube-dns",
    must: "**no answer** (negative control): 004's failure",
    seed: `${SEED_004_DNS} (before the fix)`,
    once: true,
    under: "sg-without-pod-cidr",
    cases: (t) => dnsCases(t, "other node", true),
  },
  {
    group: "SG without pod CIDR: DNS on DNS's node",
    from: "every pod on the DNS pod's node",
    to: "svc kube-dns",
    must: "still resolves: the rule matters only across nodes",
    seed: SEED_004_DNS,
    once: true,
    under: "sg-without-pod-cidr",
    cases: (t) => dnsCases(t, "same node"),
  },
  {
    group: "SG pod CIDR back: pod -> pod, other node",
    from: "shell-worker-N",
    to: "web-worker-N+1",
    must: "with the rule back, connects again; the server sees the client pod's IP",
    seed: SEED_CROSS_NODE,
    once: true,
    after: "sg-without-pod-cidr",
    cases: (t) => crossNodePods(t, false),
  },
  {
    group: "SG pod CIDR back: DNS from other node",
    from: "every pod on a node without the DNS pod",
    to: "svc kube-dns",
    must: "resolves again",
    seed: `${SEED_004_DNS} (after the fix)`,
    once: true,
    after: "sg-without-pod-cidr",
    cases: (t) => dnsCases(t, "other node"),
  },
  {
    group: LIFECYCLE_ROWS.cniCheck,
    from: "the node's runtime",
    to: "every pod",
    must: "CHECK through the whole conflist passes",
    seed: "CNI spec",
  },
  {
    group: LIFECYCLE_ROWS.del,
    from: "the runtime",
    to: "every pod, in reverse",
    must: "DEL (plugins in reverse) succeeds",
    seed: '000/002 plugin\'s DEL ("removes the IP address from the reserved IP list")',
  },
  {
    group: LIFECYCLE_ROWS.ipamEmpty,
    from: "every worker",
    to: "its IPAM dir",
    must: "no reservation is left",
    seed: "000/002, as above",
  },
  {
    group: LIFECYCLE_ROWS.noVeth,
    from: "every worker",
    to: "cni0",
    must: "no `pn*` veth is left and nothing stays plugged into cni0",
    seed: "000/002, as above",
  },
  {
    group: LIFECYCLE_ROWS.readd,
    from: "the runtime",
    to: "every pod",
    must: "a fresh, unique address in the node's pod CIDR, reserved once",
    seed: "000/002, as above",
  },
];

/** The spec of a row by its name (throws for a name the table lacks: a typo is a bug). */
export function checkSpec(group: string): CheckSpec {
  const spec = CHECK_TABLE.find((s) => s.group === group);
  if (!spec) throw new Error(`no check named ${JSON.stringify(group)} in model/checkTable.ts`);
  return spec;
}

const cell = (text: string) => text.replace(/\|/g, "\\|");

/** The docs' table of checks (between the markers in docs, see test/checks.test.ts). */
export function renderChecksMarkdown(table: readonly CheckSpec[] = CHECK_TABLE): string {
  const lines = ["| Row | From → to | What must be seen | Seed lab |", "|---|---|---|---|"];
  for (const s of table) {
    const when = s.under ? " *(negative control, first pass)*" : s.after ? " *(first pass)*" : "";
    lines.push(`| ${cell(s.group)}${when} | ${cell(s.from)} → ${cell(s.to)} | ${cell(s.must)} | ${cell(s.seed)} |`);
  }
  return `${lines.join("\n")}\n`;
}
