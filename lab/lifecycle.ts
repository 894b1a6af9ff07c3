// The lab's pod-lifecycle rows (LIFECYCLE_ROWS in model/checkTable.ts): CNI CHECK of every pod,
// DEL of every pod, nothing left behind on the nodes, and a re-add that gets fresh addresses.
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { DEFAULT_BRIDGE } from "../cni/conflist";
import { cidrContainsIp, parseCidr, parseIPv4 } from "../cni/ipv4";
import { HOST_VETH_PATTERN } from "../cni/links";
import type { CheckRow } from "../model/checks";
import { LIFECYCLE_ROWS } from "../model/checkTable";
import type { LabNode, LabPlan } from "./labPlan";
import { CniCallError } from "./libcni";
import type { PodInstance, PodReport, Pods } from "./pods";
import { runSync } from "./sh";

/** A row before the lab files it under its phase. */
export type Row = Omit<CheckRow, "phase">;

/**
 * CNI CHECK through the conflist for every pod (podnet, then portmap), as libcni runs it.
 * One upstream defect is named rather than hidden: Debian's portmap 1.1.1 fails CHECK
 * for any pod that has port mappings and no IPv6 address, because it also looks for
 * ip6tables rules it never made (containernetworking/plugins#819, fixed upstream after
 * 1.1.1). Libcni runs portmap after podnet, so when that is the error podnet's CHECK has
 * already passed, and the hostPort rows show portmap's IPv4 rules at work.
 */
export function cniCheckRows(pods: Pods): Promise<Row[]> {
  return Promise.all(pods.all().map((inst) => cniCheckRow(pods, inst)));
}

async function cniCheckRow(pods: Pods, inst: PodInstance): Promise<Row> {
  const started = Date.now();
  let seen = "ok";
  let ok = true;
  try {
    await pods.check(inst);
    const plugins = pods.nodeCni(inst.pod.node).list.plugins.map((p) => p.type);
    seen = `ok (${plugins.join(", ")})`;
  } catch (e) {
    ok = false;
    seen = (e as Error).message;
    if (isPortmapIpv6CheckBug(e, inst.ip)) {
      ok = true;
      seen = "podnet ok; portmap 1.1.1: known IPv6 CHECK bug (plugins#819)";
    }
  }
  const ms = Date.now() - started;
  return { group: LIFECYCLE_ROWS.cniCheck, from: inst.pod.node, to: inst.pod.name, expect: "ok", seen, ok, ms };
}

/** Debian's portmap 1.1.1 CHECK on an IPv4-only pod with port mappings (plugins#819). */
function isPortmapIpv6CheckBug(error: unknown, podIp: string): boolean {
  return (
    error instanceof CniCallError &&
    error.plugin === "portmap" &&
    error.verb === "CHECK" &&
    /could not check ipv6 dnat/.test(error.msg) &&
    !podIp.includes(":")
  );
}

/** Deletes every pod through the conflist, last first; the row says which DEL failed, if one did. */
export async function deleteAll(plan: LabPlan, pods: Pods): Promise<Row> {
  const order = [...plan.pods].reverse();
  const started = Date.now();
  let error = "";
  for (const pod of order) {
    try {
      await pods.delete(pod.name);
    } catch (e) {
      error = `${pod.name}: ${(e as Error).message}`;
      break;
    }
  }
  const ms = Date.now() - started;
  const to = `${order.length} pods`;
  return { group: LIFECYCLE_ROWS.del, from: "runtime", to, expect: "ok", seen: error || "ok", ok: !error, ms };
}

/** After every DEL, per worker: no IPAM reservation and no podnet veth is left. */
export function leftoverRows(plan: LabPlan): Row[] {
  return plan.workers.flatMap((node): Row[] => {
    const held = reservations(node.dataDir);
    const veths = podnetVeths(node);
    return [
      {
        group: LIFECYCLE_ROWS.ipamEmpty,
        from: node.name,
        to: node.dataDir.replace(plan.runDir, "<run>"),
        expect: "0 reservations",
        seen: held.length ? held.join(", ") : "0 reservations",
        ok: held.length === 0,
        ms: 0,
      },
      {
        group: LIFECYCLE_ROWS.noVeth,
        from: node.name,
        to: DEFAULT_BRIDGE,
        expect: "none",
        seen: veths.length ? veths.join(", ") : "none",
        ok: veths.length === 0,
        ms: 0,
      },
    ];
  });
}

/** Each re-added pod: a new address in its node's pod CIDR, not the gateway, held once, by nobody else. */
export function readdRows(plan: LabPlan, before: ReadonlyMap<string, string>, readded: readonly PodReport[]): Row[] {
  return readded.map((r) => {
    const node = plan.nodes.find((n) => n.name === r.node);
    if (!node) throw new Error(`no node ${r.node}`);
    const held = reservations(node.dataDir);
    const subnetOk = inCidr(r.ip, node.plan.podCidr) && r.ip !== node.plan.gateway;
    const unique = readded.filter((o) => o.ip === r.ip).length === 1;
    const podsOnNode = plan.pods.filter((p) => p.node === r.node).length;
    return {
      group: LIFECYCLE_ROWS.readd,
      from: r.node,
      to: r.name,
      expect: `new IP in ${node.plan.podCidr}, reserved once`,
      seen: `${before.get(r.name)} -> ${r.ip} (node holds ${held.join(", ")})`,
      ok: subnetOk && unique && held.length === podsOnNode && held.includes(r.ip),
      ms: r.addMs,
    };
  });
}

function inCidr(ip: string, cidr: string): boolean {
  const value = parseIPv4(ip);
  return value !== undefined && cidrContainsIp(parseCidr(cidr), value);
}

/** IPAM reservations under a node's dataDir, read from the files (one per reserved IP). */
export function reservations(dataDir: string): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const name of names) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (parseIPv4(name) !== undefined) found.push(name);
    }
  };
  walk(dataDir);
  return found.sort();
}

/** podnet's node-side veths left in a node, and anything still plugged into its bridge. */
function podnetVeths(node: LabNode): string[] {
  const ran = runSync(["ip", "-n", node.netns, "-json", "link", "show"]);
  if (ran.status !== 0) return [`cannot list links: ${ran.stderr.trim()}`];
  return (JSON.parse(ran.stdout || "[]") as Array<{ ifname: string; master?: string }>)
    .filter((l) => HOST_VETH_PATTERN.test(l.ifname) || l.master === DEFAULT_BRIDGE)
    .map((l) => l.ifname);
}
