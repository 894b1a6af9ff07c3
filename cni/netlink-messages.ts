// rtnetlink(7) requests as bytes: the few messages the one-process ADD and DEL send
// (cni/netlink.ts), and the parsing of the kernel's answers. Pure functions, so they are
// tested without a socket; the constants are those of linux/rtnetlink.h and if_link.h.

export const RTM_NEWLINK = 16;
export const RTM_DELLINK = 17;
export const RTM_GETLINK = 18;
export const RTM_NEWADDR = 20;
export const RTM_NEWROUTE = 24;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;

const NLM_F_REQUEST = 0x1;
const NLM_F_ACK = 0x4;
const NLM_F_EXCL = 0x200;
const NLM_F_CREATE = 0x400;
/** Create, failing if it exists (what `ip link/addr/route add` send). */
export const CREATE = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
export const CHANGE = NLM_F_REQUEST | NLM_F_ACK;
export const GET = NLM_F_REQUEST;

const AF_UNSPEC = 0;
const AF_INET = 2;
export const IFF_UP = 0x1;
/** The loopback device's ifindex in every network namespace. */
export const LOOPBACK_IFINDEX = 1;

const IFLA_ADDRESS = 1;
const IFLA_IFNAME = 3;
const IFLA_MTU = 4;
const IFLA_MASTER = 10;
const IFLA_LINKINFO = 18;
const IFLA_NET_NS_FD = 28;
const IFLA_INFO_KIND = 1;
const IFLA_INFO_DATA = 2;
const VETH_INFO_PEER = 1;
const IFA_ADDRESS = 1;
const IFA_LOCAL = 2;
const RTA_OIF = 4;
const RTA_GATEWAY = 5;
const RT_TABLE_MAIN = 254;
const RTPROT_BOOT = 3;
const RT_SCOPE_UNIVERSE = 0;
const RTN_UNICAST = 1;

const align = (n: number) => (n + 3) & ~3;

/** A netlink attribute: type, then its payload (bytes, or nested attributes). */
export type Attr = [type: number, payload: Uint8Array | Attr[]];

const u32 = (v: number) => new Uint8Array(new Uint32Array([v >>> 0]).buffer);
const str = (s: string) => new TextEncoder().encode(`${s}\0`);
/** "0a:58:..." as its six bytes. */
export const macBytes = (mac: string) => Uint8Array.from(mac.split(":").map((h) => parseInt(h, 16)));
/** An IPv4 address (host order number, as cni/ipv4.ts keeps them) in network order. */
export const ipv4Bytes = (ip: number) => Uint8Array.of(ip >>> 24, (ip >>> 16) & 255, (ip >>> 8) & 255, ip & 255);

function attrBytes(attrs: Attr[]): Uint8Array {
  const parts = attrs.map(([type, payload]) => {
    const body = payload instanceof Uint8Array ? payload : attrBytes(payload);
    const out = new Uint8Array(align(4 + body.length));
    new DataView(out.buffer).setUint16(0, 4 + body.length, true);
    new DataView(out.buffer).setUint16(2, type, true);
    out.set(body, 4);
    return out;
  });
  return concat(parts);
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** struct ifinfomsg: family, type, index, flags and the flags to change. */
function ifinfomsg(index: number, flags: number, change: number): Uint8Array {
  const b = new Uint8Array(16);
  const v = new DataView(b.buffer);
  v.setUint8(0, AF_UNSPEC);
  v.setInt32(4, index, true);
  v.setUint32(8, flags, true);
  v.setUint32(12, change, true);
  return b;
}

/** A whole message: struct nlmsghdr, then the body (already aligned). */
export function message(type: number, flags: number, seq: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(16 + body.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, out.length, true);
  v.setUint16(4, type, true);
  v.setUint16(6, flags, true);
  v.setUint32(8, seq, true);
  out.set(body, 16);
  return out;
}

export interface VethSpec {
  name: string;
  mac: string;
  mtu: number;
  /** The bridge to plug this end into, by ifindex. */
  master: number;
  peerName: string;
  peerMac: string;
  /** An open fd of the network namespace the peer is created in. */
  peerNetnsFd: number;
}

/** `ip link add NAME address MAC mtu M master B up type veth peer name P address PMAC mtu M netns FD`. */
export function newVeth(spec: VethSpec): Uint8Array {
  const peer = concat([
    ifinfomsg(0, 0, 0),
    attrBytes([
      [IFLA_IFNAME, str(spec.peerName)],
      [IFLA_ADDRESS, macBytes(spec.peerMac)],
      [IFLA_MTU, u32(spec.mtu)],
      [IFLA_NET_NS_FD, u32(spec.peerNetnsFd)],
    ]),
  ]);
  return concat([
    ifinfomsg(0, IFF_UP, IFF_UP),
    attrBytes([
      [IFLA_IFNAME, str(spec.name)],
      [IFLA_ADDRESS, macBytes(spec.mac)],
      [IFLA_MTU, u32(spec.mtu)],
      [IFLA_MASTER, u32(spec.master)],
      [
        IFLA_LINKINFO,
        [
          [IFLA_INFO_KIND, str("veth")],
          [IFLA_INFO_DATA, [[VETH_INFO_PEER, peer]]],
        ],
      ],
    ]),
  ]);
}

/** A link by name (RTM_GETLINK, RTM_DELLINK). */
export function linkByName(name: string): Uint8Array {
  return concat([ifinfomsg(0, 0, 0), attrBytes([[IFLA_IFNAME, str(name)]])]);
}

/** `ip link set dev <index> up`. */
export function linkUp(index: number): Uint8Array {
  return ifinfomsg(index, IFF_UP, IFF_UP);
}

/** `ip addr add IP/PREFIX dev <index>`. */
export function newAddress(index: number, ip: number, prefix: number): Uint8Array {
  const head = new Uint8Array(8);
  const v = new DataView(head.buffer);
  v.setUint8(0, AF_INET);
  v.setUint8(1, prefix);
  v.setUint8(3, RT_SCOPE_UNIVERSE);
  v.setUint32(4, index, true);
  return concat([
    head,
    attrBytes([
      [IFA_LOCAL, ipv4Bytes(ip)],
      [IFA_ADDRESS, ipv4Bytes(ip)],
    ]),
  ]);
}

/** `ip route add default via GW dev <index>`. */
export function newDefaultRoute(index: number, gateway: number): Uint8Array {
  const head = Uint8Array.of(AF_INET, 0, 0, 0, RT_TABLE_MAIN, RTPROT_BOOT, RT_SCOPE_UNIVERSE, RTN_UNICAST, 0, 0, 0, 0);
  return concat([
    head,
    attrBytes([
      [RTA_GATEWAY, ipv4Bytes(gateway)],
      [RTA_OIF, u32(index)],
    ]),
  ]);
}

export interface Reply {
  type: number;
  seq: number;
  /** NLMSG_ERROR: 0 for an acknowledgement, else the errno the request failed with. */
  errno?: number;
  /** RTM_NEWLINK (the answer to RTM_GETLINK): the link's ifindex. */
  ifindex?: number;
}

/** The messages in one datagram from the kernel. */
export function parseReplies(data: Uint8Array): Reply[] {
  const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const out: Reply[] = [];
  for (let at = 0; at + 16 <= data.length; ) {
    const len = v.getUint32(at, true);
    if (len < 16 || at + len > data.length) break;
    const reply: Reply = { type: v.getUint16(at + 4, true), seq: v.getUint32(at + 8, true) };
    if (reply.type === NLMSG_ERROR && len >= 20) reply.errno = -v.getInt32(at + 16, true) || 0;
    if (reply.type === RTM_NEWLINK && len >= 32) reply.ifindex = v.getInt32(at + 20, true);
    out.push(reply);
    at += align(len);
  }
  return out;
}
