// The rtnetlink requests cni/netlink.ts sends, byte by byte, and the parsing of the
// kernel's answers. The root suite (plugin.test.ts) shows the kernel accepts them.
import assert from "node:assert/strict";
import { parseIPv4 } from "../cni/ipv4";
import {
  CREATE,
  linkByName,
  linkUp,
  message,
  NLMSG_ERROR,
  newAddress,
  newDefaultRoute,
  newVeth,
  parseReplies,
  RTM_NEWADDR,
  RTM_NEWLINK,
} from "../cni/netlink-messages";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

/** Walks attributes: [type, payload] with lengths checked against the buffer. */
function attrs(b: Uint8Array, at = 0): Array<[number, Uint8Array]> {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out: Array<[number, Uint8Array]> = [];
  while (at + 4 <= b.length) {
    const len = v.getUint16(at, true);
    assert.ok(len >= 4 && at + len <= b.length, `attribute at ${at} has length ${len}`);
    out.push([v.getUint16(at + 2, true), b.subarray(at + 4, at + len)]);
    at += (len + 3) & ~3;
  }
  return out;
}

describe("rtnetlink messages (cni/netlink-messages.ts)", function () {
  it("frames a request with its length, type, flags and sequence number", function () {
    const m = message(RTM_NEWADDR, CREATE, 7, new Uint8Array(8));
    assert.equal(hex(m.subarray(0, 16)), "18000000" + "1400" + "0506" + "07000000" + "00000000");
  });

  it("adds an address as ip addr add does: AF_INET, prefix, ifindex, IFA_LOCAL and IFA_ADDRESS in network order", function () {
    const b = newAddress(5, parseIPv4("10.244.1.7") as number, 24);
    assert.equal(hex(b.subarray(0, 8)), "02180000" + "05000000");
    assert.deepEqual(
      attrs(b, 8).map(([t, p]) => [t, hex(p)]),
      [
        [2, "0af40107"],
        [1, "0af40107"],
      ],
    );
  });

  it("adds the default route in the main table via the gateway, out of the ifindex", function () {
    const b = newDefaultRoute(3, parseIPv4("10.244.1.1") as number);
    assert.equal(hex(b.subarray(0, 12)), "02000000" + "fe030001" + "00000000");
    assert.deepEqual(
      attrs(b, 12).map(([t, p]) => [t, hex(p)]),
      [
        [5, "0af40101"],
        [4, "03000000"],
      ],
    );
  });

  it("makes the veth with its node end up on the bridge and its peer in the pod's namespace", function () {
    const b = newVeth({
      name: "pnabc",
      mac: "0e:58:0a:f4:01:07",
      mtu: 1450,
      master: 4,
      peerName: "eth0",
      peerMac: "0a:58:0a:f4:01:07",
      peerNetnsFd: 9,
    });
    assert.equal(hex(b.subarray(0, 16)), "00000000" + "00000000" + "01000000" + "01000000", "IFF_UP set and changed");
    const top = new Map(attrs(b, 16));
    assert.equal(Buffer.from(top.get(3) as Uint8Array).toString(), "pnabc\0");
    assert.equal(hex(top.get(1) as Uint8Array), "0e580af40107");
    assert.equal(hex(top.get(4) as Uint8Array), "aa050000");
    assert.equal(hex(top.get(10) as Uint8Array), "04000000", "IFLA_MASTER");
    const linkinfo = new Map(attrs(top.get(18) as Uint8Array));
    assert.equal(Buffer.from(linkinfo.get(1) as Uint8Array).toString(), "veth\0");
    const [[peerType, peer]] = attrs(linkinfo.get(2) as Uint8Array);
    assert.equal(peerType, 1, "VETH_INFO_PEER");
    assert.equal(hex(peer.subarray(0, 16)), "00".repeat(16), "the peer stays down until configured in the pod");
    const p = new Map(attrs(peer, 16));
    assert.equal(Buffer.from(p.get(3) as Uint8Array).toString(), "eth0\0");
    assert.equal(hex(p.get(1) as Uint8Array), "0a580af40107");
    assert.equal(hex(p.get(28) as Uint8Array), "09000000", "IFLA_NET_NS_FD");
  });

  it("names a link for GETLINK/DELLINK and brings one up by ifindex", function () {
    assert.equal(hex(linkByName("eth0")), `${"00".repeat(16)}09000300${hex(Buffer.from("eth0\0"))}000000`);
    assert.equal(hex(linkUp(1)), "00000000010000000100000001000000");
  });

  it("reads acknowledgements, errors and a link's ifindex from one datagram", function () {
    const ack = message(NLMSG_ERROR, 0, 1, new Uint8Array(20));
    const err = message(NLMSG_ERROR, 0, 2, Uint8Array.from([0xef, 0xff, 0xff, 0xff, ...new Array(16).fill(0)]));
    const link = message(RTM_NEWLINK, 0, 3, linkUp(12));
    const replies = parseReplies(Uint8Array.from([...ack, ...err, ...link]));
    assert.deepEqual(replies, [
      { type: NLMSG_ERROR, seq: 1, errno: 0 },
      { type: NLMSG_ERROR, seq: 2, errno: 17 },
      { type: RTM_NEWLINK, seq: 3, ifindex: 12 },
    ]);
    assert.deepEqual(parseReplies(Uint8Array.from([0xff, 0, 0, 0])), [], "a truncated datagram yields nothing");
  });
});
