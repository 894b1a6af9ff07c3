// The connectivity checks as data, and the small interface an environment implements to
// run them. The table (model/checkTable.ts) says what must hold between which ends; a
// Driver says how to act from a pod, a node or an outside address in one environment (the
// lab's namespaces: lab/driver.ts; a real cluster: kubectl exec and SSH). runTable()
// (model/runChecks.ts) expands the table over the environment's Topology, asks the driver
// and judges what it saw. Pure: nothing here touches the system.

/** One row of the report, as printed and as written by --json. */
export interface CheckRow {
  /** When it ran: "initial", "after re-add", ... */
  phase: string;
  /** The check's name (CheckSpec.group). */
  group: string;
  from: string;
  to: string;
  /** What must be seen, in words. */
  expect: string;
  /** What was seen, in words. */
  seen: string;
  ok: boolean;
  ms: number;
}

// ---------------------------------------------------------------- the environment

export interface TopoNode {
  readonly name: string;
  readonly role: "control-plane" | "worker";
  /** The node's address in the VPC subnet (its ENI's private IP). */
  readonly ip: string;
  /** Its pods' gateway: the address podnet gives cni0 (the pod CIDR's first address). */
  readonly gateway: string;
  readonly podCidr: string;
}

/**
 * The test pods. web: answers TCP on `port` (80, also hostPort) and UDP echo; shell: a
 * client with a TCP server of its own; dns: the stand-in for CoreDNS (lab only).
 */
export type PodRole = "web" | "shell" | "dns";

export interface TopoPod {
  readonly name: string;
  readonly role: PodRole;
  readonly node: string;
  readonly ip: string;
  /** The TCP port its server answers on. */
  readonly port: number;
}

export interface TopoService {
  /** Service name as DNS knows it (`<name>.<namespace>.svc.cluster.local`). */
  readonly name: string;
  readonly namespace: string;
  readonly ip: string;
  readonly port: number;
  readonly protocol: "tcp" | "udp";
  /** The test pod behind it, when it is one (kube-dns on a real cluster is CoreDNS: none). */
  readonly endpoint?: string;
}

/** Everything the table needs to know about an environment; optional parts switch rows off. */
export interface Topology {
  /** Control plane first, then the workers. */
  readonly nodes: readonly TopoNode[];
  readonly pods: readonly TopoPod[];
  /** web (tcp), echo (udp), kube-dns (udp): see SERVICE_NAMES. */
  readonly services: readonly TopoService[];
  /** The TCP port every node answers on (the kubelet's, 10250). */
  readonly nodePort: number;
  /** The web pods' hostPort (portmap), when the environment has one. */
  readonly webHostPort?: number;
  /** The SSH and API server ports the security group opens to the admin CIDRs. */
  readonly sshPort: number;
  readonly apiServerPort: number;
  /** A server outside the VPC that is not an admin address (the lab's internet namespace). */
  readonly internet?: { readonly ip: string; readonly port: number };
  /** A client inside adminCidrs (the lab's admin namespace). */
  readonly admin?: { readonly ip: string };
}

/** Service names the table refers to. */
export const SERVICE_NAMES = { web: "web", echo: "echo", dns: "kube-dns" } as const;

// ---------------------------------------------------------------- one case

/** Who acts. Drivers map these onto their own handles (an agent, `kubectl exec`, ssh). */
export type Actor =
  | { readonly kind: "pod"; readonly name: string }
  | { readonly kind: "node"; readonly name: string }
  | { readonly kind: "outside"; readonly name: "internet" | "admin" };

/** What the actor does. `label` names the far end in the report's "to" column. */
export type Probe =
  | { readonly kind: "tcp" | "udp"; readonly label: string; readonly host: string; readonly port: number }
  | { readonly kind: "icmp"; readonly label: string; readonly host: string }
  /** Resolve `name` with the actor's own resolver configuration (a pod's resolv.conf). */
  | { readonly kind: "dns"; readonly label: string; readonly name: string };

export interface Expect {
  /** Nothing may get through (a negative control). */
  readonly fail?: boolean;
  /** The source address the server must have seen. */
  readonly peer?: string;
  /** The test pod (or node) that must have answered: a service must land on its endpoint. */
  readonly agent?: string;
  /** DNS: the answer must be exactly these addresses. */
  readonly addresses?: readonly string[];
}

export interface Case {
  readonly from: Actor;
  readonly probe: Probe;
  readonly expect: Expect;
}

/** What the driver saw for one probe. */
export interface Observation {
  /** tcp: connected (and read the server's report, when it gives one); udp: a reply came back; icmp: an echo reply; dns: an answer. */
  readonly ok: boolean;
  /** The source address the far end saw, as it reported it (the lab's agents do; sshd does not). */
  readonly peer?: string;
  /** Who answered, as the far end reported it (a test pod's or node's name). */
  readonly agent?: string;
  /** dns: the addresses in the answer. */
  readonly addresses?: readonly string[];
  /** Why it did not get through: ECONNREFUSED, "timed out after 1000 ms", NXDOMAIN ... */
  readonly error?: string;
  readonly ms: number;
}

// ---------------------------------------------------------------- the driver

/** A change a negative control makes for the duration of its rows. */
export type Perturbation =
  /** The service endpoint's mark-for-masquerade rule is removed: the hairpin must fail. */
  | "hairpin-masq-off"
  /** The node security group loses its pod-CIDR rule (model/securityGroups.ts POD_CIDR_RULE): 004's failure. */
  | "sg-without-pod-cidr";

/**
 * How to act in one environment. Every method runs from inside the actor (a pod's network
 * namespace, a node, an outside address) and never throws for a failed path: a failure is
 * an Observation with ok false and an error.
 */
export interface Driver {
  /** Opens a TCP connection or sends a UDP datagram to host:port and reads the far end's report (peer, agent). */
  connect(from: Actor, protocol: "tcp" | "udp", host: string, port: number, timeoutMs: number): Promise<Observation>;
  /** One ICMP echo request. */
  ping(from: Actor, host: string, timeoutMs: number): Promise<Observation>;
  /** Resolves a name as the actor's workload would (through its own resolv.conf), IPv4 only. */
  resolve(from: Actor, name: string, timeoutMs: number): Promise<Observation>;
  /** Makes the change and returns its undo; absent when the environment cannot (those rows are skipped). */
  perturb?(change: Perturbation): Promise<() => Promise<void>>;
}

// ---------------------------------------------------------------- one row of the table

export interface CheckSpec {
  /** The row's name in the report (CheckRow.group). */
  readonly group: string;
  /** The ends, in words, for the docs table. */
  readonly from: string;
  readonly to: string;
  /** What must be seen, in words, for the docs table. */
  readonly must: string;
  /** The seed lab step it reproduces. */
  readonly seed: string;
  /** Only in the first pass (negative controls, which change the environment). */
  readonly once?: boolean;
  /** Runs while this change is in force (and the undo is applied right after). */
  readonly under?: Perturbation;
  /** Runs right after this change has been undone: the path works again. */
  readonly after?: Perturbation;
  /**
   * The concrete cases in an environment; an environment without the ends a case needs
   * yields none. Absent: a lifecycle row (CNI CHECK, DEL, re-ADD) that the lab runs itself.
   */
  readonly cases?: (t: Topology) => Case[];
}
