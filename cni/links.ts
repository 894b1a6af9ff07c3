// Links on the node and in the pod: the cni0 bridge, the veth pair, the pod's address and
// default route. The pod end of a veth is created directly inside the pod's namespace
// (from the node with `peer ... netns`, or from the pod itself with the node end sent to
// the node), so its name (eth0) never exists on the node, and many ADDs at once cannot
// collide on it.

import { CniError, ErrorCode } from "./errors";
import { ip, ipBatch, isNotFound } from "./exec";
import { readlinkSync, writeFileSync } from "./fs";
import { fnv1a64 } from "./hash";
import { type Cidr, formatCidr, formatIPv4, gatewayOf, macForIp, parseIPv4 } from "./ipv4";
import { createPodVeth, deleteLink, NetlinkError } from "./netlink";
import { basename } from "./path";

export interface BridgeSpec {
  name: string;
  subnet: Cidr;
  mtu: number;
}

interface IpAddrInfo {
  family: string;
  local: string;
  prefixlen: number;
}

interface IpLink {
  ifname: string;
  flags?: string[];
  address?: string;
  ifalias?: string;
  master?: string;
  mtu?: number;
  addr_info?: IpAddrInfo[];
  linkinfo?: { info_kind?: string; info_slave_kind?: string; info_slave_data?: { hairpin?: boolean } };
}

interface IpRoute {
  dst: string;
  gateway?: string;
  dev?: string;
}

/** The node-side veth name: stable per attachment, so DEL and GC find it without state. */
export function hostVethName(containerId: string, ifname: string): string {
  return `pn${fnv1a64(`${containerId}\n${ifname}`).slice(0, 13)}`;
}

export const HOST_VETH_PATTERN = /^pn[0-9a-f]{13}$/;

/** The node-side veth's MAC, derived like the pod's so the result needs no read-back. */
export function hostVethMac(podIp: number): string {
  return `0e${macForIp(podIp).slice(2)}`;
}

function parseLinks(json: string): IpLink[] {
  const text = json.trim();
  return text ? (JSON.parse(text) as IpLink[]) : [];
}

function gatewayCidr(subnet: Cidr): string {
  return `${formatIPv4(gatewayOf(subnet))}/${subnet.prefix}`;
}

function ipv4Addresses(link: IpLink): string[] {
  return (link.addr_info ?? []).filter((a) => a.family === "inet").map((a) => `${a.local}/${a.prefixlen}`);
}

/** Reads the bridge; undefined when it does not exist. */
export function readBridge(name: string): IpLink | undefined {
  const res = ip(["-json", "-details", "addr", "show", "dev", name]);
  if (res.status !== 0) {
    if (isNotFound(res.stderr)) return undefined;
    throw new CniError(ErrorCode.NetworkSetupFailed, `cannot read ${name}: ${res.stderr.trim()}`);
  }
  return parseLinks(res.stdout)[0];
}

/** What is wrong with an existing bridge that podnet must not silently change. */
export function bridgeConflict(link: IpLink, spec: BridgeSpec): CniError | undefined {
  const kind = link.linkinfo?.info_kind;
  if (kind !== "bridge") {
    return new CniError(
      ErrorCode.InvalidConfig,
      `${spec.name} exists but is ${kind ? `a ${kind} device` : "not a bridge"}`,
      `set "bridge" in the network config to a free name, or delete ${spec.name}`,
    );
  }
  const want = gatewayCidr(spec.subnet);
  const others = ipv4Addresses(link).filter((a) => a !== want);
  if (others.length > 0) {
    return new CniError(
      ErrorCode.InvalidConfig,
      `bridge ${spec.name} holds ${others.join(", ")} but podnet's subnet ${formatCidr(spec.subnet)} needs ${want}`,
      `another network owns ${spec.name}: set "bridge" to another name, or if the address is stale remove it with ` +
        `"ip addr del ${others[0]} dev ${spec.name}"`,
    );
  }
  return undefined;
}

/**
 * Ensures the bridge exists, is up and holds the subnet's gateway. Safe when many ADDs
 * race: creating what another process just created is not an error.
 */
export function ensureBridge(spec: BridgeSpec): { created: boolean } {
  let link = readBridge(spec.name);
  let created = false;
  if (!link) {
    const mac = macForIp(gatewayOf(spec.subnet));
    const add = ip(["link", "add", spec.name, "address", mac, "mtu", String(spec.mtu), "type", "bridge"]);
    if (add.status !== 0 && !/File exists/.test(add.stderr)) {
      throw new CniError(ErrorCode.NetworkSetupFailed, `cannot create bridge ${spec.name}: ${add.stderr.trim()}`);
    }
    created = add.status === 0;
    link = readBridge(spec.name);
    if (!link) throw new CniError(ErrorCode.TryAgainLater, `bridge ${spec.name} vanished while being created`);
  }
  const conflict = bridgeConflict(link, spec);
  if (conflict) throw conflict;
  const commands: string[] = [];
  if (!ipv4Addresses(link).includes(gatewayCidr(spec.subnet))) {
    const add = ip(["addr", "add", gatewayCidr(spec.subnet), "dev", spec.name]);
    if (add.status !== 0 && !/File exists|already assigned/.test(add.stderr)) {
      throw new CniError(
        ErrorCode.NetworkSetupFailed,
        `cannot add ${gatewayCidr(spec.subnet)} to ${spec.name}: ${add.stderr.trim()}`,
      );
    }
  }
  if (!link.flags?.includes("UP")) commands.push(`link set ${spec.name} up`);
  ipBatch(commands);
  return { created };
}

export interface AttachmentSpec {
  bridge: string;
  mtu: number;
  hairpin: boolean;
  netns: string;
  ifname: string;
  hostIfname: string;
  podIp: number;
  subnet: Cidr;
}

/**
 * Creates the veth pair, plugs the node end into the bridge and configures the pod end:
 * one `ip -batch` on the node and one in the pod. The node batch reads the bridge first,
 * so the usual case (bridge already right) needs no separate read; a missing bridge
 * stops the batch before anything is made, and is created before a second try.
 */
export function createAttachment(
  spec: AttachmentSpec,
  bridge: BridgeSpec,
): { podMac: string; hostMac: string; bridgeAlias: string } {
  const podMac = macForIp(spec.podIp);
  const hostMac = hostVethMac(spec.podIp);
  const mtu = String(spec.mtu);
  const nodeBatch = [
    `addr show dev ${spec.bridge}`,
    `link add ${spec.hostIfname} address ${hostMac} mtu ${mtu} type veth peer name ${spec.ifname} address ${podMac} mtu ${mtu} netns ${spec.netns}`,
    `link set ${spec.hostIfname} master ${spec.bridge} up`,
    ...(spec.hairpin ? [`link set ${spec.hostIfname} type bridge_slave hairpin on`] : []),
  ];
  let out: string;
  try {
    out = ipBatch(nodeBatch, undefined, ["-details"]);
  } catch (error) {
    if (
      !(error instanceof CniError) ||
      !/^"ip addr show/.test(error.failedCommand ?? "") ||
      !isNotFound(error.details)
    ) {
      throw error instanceof CniError && error.failedCommand?.includes(` master ${spec.bridge} `)
        ? conflictOr(error, bridge)
        : error;
    }
    ensureBridge(bridge);
    out = ipBatch(nodeBatch, undefined, ["-details"]);
  }
  const link = parseLinks(out.trim().split("\n")[0])[0];
  if (!link) throw new CniError(ErrorCode.TryAgainLater, `bridge ${spec.bridge} vanished during ADD`);
  const conflict = bridgeConflict(link, bridge);
  if (conflict) throw conflict;
  // Another ADD may be half-way through creating the bridge: finish the job.
  if (!ipv4Addresses(link).includes(gatewayCidr(bridge.subnet)) || !link.flags?.includes("UP")) ensureBridge(bridge);
  ipBatch(podSideCommands(spec), spec.netns);
  return { podMac, hostMac, bridgeAlias: link.ifalias ?? "" };
}

/** The pod end's set-up inside the pod, for either way the pair is made by `ip`: lo and the link up, the address, the default route. */
function podSideCommands(spec: AttachmentSpec): string[] {
  return [
    "link set lo up",
    `link set ${spec.ifname} up`,
    `addr add ${formatIPv4(spec.podIp)}/${spec.subnet.prefix} dev ${spec.ifname}`,
    `route add default via ${formatIPv4(gatewayOf(spec.subnet))} dev ${spec.ifname}`,
  ];
}

/** Plugging into the bridge failed: when its name is taken by another kind of link, that is the error (code 7). */
function conflictOr(error: unknown, bridge: BridgeSpec): unknown {
  try {
    const link = readBridge(bridge.name);
    return (link && bridgeConflict(link, bridge)) ?? error;
  } catch {
    return error;
  }
}

/**
 * The one-process ADD (cni/nodestate.ts), for a node checked recently: the pair is made
 * with its node end plugged into the bridge by ifindex and up, and the pod end configured,
 * over netlink from this process (cni/netlink.ts), or where that is unavailable by `ip`
 * inside the pod; hairpin is set through sysfs. Returns undefined, leaving nothing
 * behind, when the pair could not be made this way or its node end is not on the bridge
 * (replaced since sysfs was read): the caller then takes the full path, which also
 * reports any real error.
 */
export function createAttachmentFromPod(
  spec: AttachmentSpec,
  bridgeIfindex: number,
): { podMac: string; hostMac: string } | undefined {
  const podMac = macForIp(spec.podIp);
  const hostMac = hostVethMac(spec.podIp);
  const made = createPodVeth({
    name: spec.hostIfname,
    mac: hostMac,
    mtu: spec.mtu,
    master: bridgeIfindex,
    peerName: spec.ifname,
    peerMac: podMac,
    netns: spec.netns,
    podIp: spec.podIp,
    prefix: spec.subnet.prefix,
    gateway: gatewayOf(spec.subnet),
  });
  if (made === "refused") return undefined;
  if (made === "unavailable" && !createPodVethWithIp(spec, bridgeIfindex, hostMac, podMac)) return undefined;
  if (sysfsMaster(spec.hostIfname) !== spec.bridge) {
    deleteHostVeth(spec.hostIfname);
    return undefined;
  }
  if (spec.hairpin) setHairpin(spec.hostIfname);
  return { podMac, hostMac };
}

/** createAttachmentFromPod's pair and pod set-up by one `ip -batch` in the pod; false when the pair could not be made. */
function createPodVethWithIp(spec: AttachmentSpec, bridgeIfindex: number, hostMac: string, podMac: string): boolean {
  const mtu = String(spec.mtu);
  const commands = [
    // netns as a path: a bare PID could also name a namespace under /run/netns. The kernel
    // looks the master's ifindex up in the node's namespace; ip takes "if<N>" as N unless
    // the pod has a device of that very name (a fresh pod namespace has none), and the
    // caller's master check catches any other outcome.
    `link add ${spec.hostIfname} address ${hostMac} mtu ${mtu} netns /proc/${process.pid}/ns/net master if${bridgeIfindex} up ` +
      `type veth peer name ${spec.ifname} address ${podMac} mtu ${mtu}`,
    ...podSideCommands(spec),
  ];
  try {
    ipBatch(commands, spec.netns);
  } catch (error) {
    // A failed link add made nothing (the kernel creates the pair whole or not at all).
    if (error instanceof CniError && error.failedCommand === `"ip ${commands[0]}"`) return false;
    throw error;
  }
  return true;
}

/** The bridge a node-side link is plugged into, as sysfs shows it. */
function sysfsMaster(ifname: string): string | undefined {
  try {
    return basename(readlinkSync(`/sys/class/net/${ifname}/master`));
  } catch {
    return undefined;
  }
}

/** Hairpin on a bridge port: through sysfs (no process), or `ip` where sysfs is read-only. */
function setHairpin(ifname: string): void {
  try {
    writeFileSync(`/sys/class/net/${ifname}/brport/hairpin_mode`, "1");
  } catch {
    ipBatch([`link set ${ifname} type bridge_slave hairpin on`]);
  }
}

/** The bridge settings a node check covers (cni/nodestate.ts nodeFingerprint). */
export function bridgeCheckText(spec: BridgeSpec): string {
  return `bridge ${spec.name} ${gatewayCidr(spec.subnet)} mtu ${spec.mtu}`;
}

/** The bridge's alias (`ip -d link show cni0`) records when podnet last checked the node. */
export function setBridgeAlias(bridge: string, alias: string): void {
  ipBatch([`link set dev ${bridge} alias "${alias}"`]);
}

/** Removes the veth pair (deleting the node end takes the pod end with it). Idempotent. */
export function deleteHostVeth(hostIfname: string): boolean {
  try {
    const deleted = deleteLink(hostIfname);
    if (deleted !== undefined) return deleted;
  } catch (error) {
    if (error instanceof NetlinkError)
      throw new CniError(ErrorCode.NetworkSetupFailed, `cannot delete ${hostIfname}: ${error.message}`);
    throw error;
  }
  const res = ip(["link", "del", hostIfname]);
  if (res.status === 0) return true;
  if (isNotFound(res.stderr)) return false;
  throw new CniError(ErrorCode.NetworkSetupFailed, `cannot delete ${hostIfname}: ${res.stderr.trim()}`);
}

/** Node-side veths podnet made on this bridge: GC compares them with the live attachments. */
export function listHostVeths(bridge: string): string[] {
  const res = ip(["-json", "link", "show", "master", bridge]);
  if (res.status !== 0) return [];
  return parseLinks(res.stdout)
    .map((l) => l.ifname)
    .filter((name) => HOST_VETH_PATTERN.test(name));
}

export interface CheckSpec extends AttachmentSpec {
  bridgeSpec: BridgeSpec;
}

/** CHECK: every piece ADD made must still be there; the message says which is not. */
export function checkAttachment(spec: CheckSpec): void {
  const fail = (msg: string, details = "") => new CniError(ErrorCode.NetworkSetupFailed, msg, details);
  const bridge = readBridge(spec.bridge);
  if (!bridge)
    throw fail(
      `bridge ${spec.bridge} is missing`,
      "the next ADD recreates it; pods on this node have no network until then",
    );
  const conflict = bridgeConflict(bridge, spec.bridgeSpec);
  if (conflict) throw conflict;
  if (!ipv4Addresses(bridge).includes(gatewayCidr(spec.subnet))) {
    throw fail(`bridge ${spec.bridge} lacks the gateway address ${gatewayCidr(spec.subnet)}`);
  }
  const host = ip(["-json", "-details", "link", "show", spec.hostIfname]);
  if (host.status !== 0) throw fail(`node-side veth ${spec.hostIfname} is missing`, host.stderr.trim());
  const hostLink = parseLinks(host.stdout)[0];
  if (hostLink?.master !== spec.bridge) throw fail(`veth ${spec.hostIfname} is not attached to ${spec.bridge}`);
  if (spec.hairpin && hostLink.linkinfo?.info_slave_data?.hairpin !== true)
    throw fail(`hairpin is off on ${spec.hostIfname}`);

  let out: string;
  try {
    out = ipBatch([`addr show dev ${spec.ifname}`, "route show default"], spec.netns);
  } catch (e) {
    throw fail(`interface ${spec.ifname} is missing in ${spec.netns}`, (e as CniError).details);
  }
  const [addrJson = "[]", routeJson = "[]"] = out.trim().split("\n");
  const podLink = parseLinks(addrJson)[0];
  const want = `${formatIPv4(spec.podIp)}/${spec.subnet.prefix}`;
  if (!podLink || !ipv4Addresses(podLink).includes(want)) {
    throw fail(
      `${spec.ifname} in ${spec.netns} does not hold ${want}`,
      `it holds ${podLink ? ipv4Addresses(podLink).join(", ") || "nothing" : "nothing"}`,
    );
  }
  if (!podLink.flags?.includes("UP")) throw fail(`${spec.ifname} in ${spec.netns} is down`);
  const gw = formatIPv4(gatewayOf(spec.subnet));
  const routes = JSON.parse(routeJson) as IpRoute[];
  if (!routes.some((r) => r.dst === "default" && r.gateway === gw && r.dev === spec.ifname)) {
    throw fail(`the default route via ${gw} dev ${spec.ifname} is missing in ${spec.netns}`);
  }
}

export function parseIpOrThrow(address: string, field: string): number {
  const value = parseIPv4(address.split("/")[0]);
  if (value === undefined) throw new CniError(ErrorCode.InvalidConfig, `${field} "${address}" is not an IPv4 address`);
  return value;
}
