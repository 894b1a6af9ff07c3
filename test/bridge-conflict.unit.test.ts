// The bridge-conflict check (cni/links.ts), without root: what podnet refuses to change on a
// device that already has the bridge's name, fed with links shaped as `ip -json -details addr
// show` prints them.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { ErrorCode } from "../cni/errors";
import { parseCidr } from "../cni/ipv4";
import { type BridgeSpec, bridgeConflict } from "../cni/links";

type Link = Parameters<typeof bridgeConflict>[0];

const spec: BridgeSpec = { name: "cni0", subnet: parseCidr("10.244.1.0/24"), mtu: 1500 };
const inet = (local: string, prefixlen: number) => ({ family: "inet", local, prefixlen });
const bridge = (...addrs: NonNullable<Link["addr_info"]>): Link => ({
  ifname: "cni0",
  flags: ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"],
  linkinfo: { info_kind: "bridge" },
  addr_info: addrs,
});

describe("bridge conflict check", () => {
  it("accepts podnet's own bridge: empty, or holding the subnet's gateway", () => {
    assert.equal(bridgeConflict(bridge(), spec), undefined);
    assert.equal(bridgeConflict({ ifname: "cni0", linkinfo: { info_kind: "bridge" } }, spec), undefined);
    assert.equal(bridgeConflict(bridge(inet("10.244.1.1", 24)), spec), undefined);
  });

  it("ignores IPv6 addresses (the kernel's link-local one is on every bridge)", () => {
    const v6 = { family: "inet6", local: "fe80::858:aff:fef4:101", prefixlen: 64 };
    assert.equal(bridgeConflict(bridge(inet("10.244.1.1", 24), v6), spec), undefined);
  });

  it("refuses a bridge holding another network's address, naming the address, the subnet and the fix", () => {
    const conflict = bridgeConflict(bridge(inet("10.244.1.1", 24), inet("10.88.0.1", 16)), spec);
    assert.ok(conflict);
    assert.equal(conflict.code, ErrorCode.InvalidConfig);
    assert.equal(
      conflict.message,
      "bridge cni0 holds 10.88.0.1/16 but podnet's subnet 10.244.1.0/24 needs 10.244.1.1/24",
    );
    assert.match(conflict.details, /set "bridge" to another name/);
    assert.match(conflict.details, /"ip addr del 10\.88\.0\.1\/16 dev cni0"/);
  });

  it("refuses the gateway with the wrong prefix, and a stale gateway of another subnet", () => {
    for (const [addr, prefix] of [
      ["10.244.1.1", 16],
      ["10.244.2.1", 24],
      ["10.244.1.2", 24],
    ] as const) {
      const conflict = bridgeConflict(bridge(inet(addr, prefix)), spec);
      assert.ok(conflict, `${addr}/${prefix}`);
      assert.match(conflict.message, new RegExp(`holds ${addr.replace(/\./g, "\\.")}/${prefix} `));
    }
  });

  it("lists every stray address and offers to delete the first", () => {
    const conflict = bridgeConflict(
      bridge(inet("192.168.5.1", 24), inet("10.244.1.1", 24), inet("172.17.0.1", 16)),
      spec,
    );
    assert.ok(conflict);
    assert.match(conflict.message, /holds 192\.168\.5\.1\/24, 172\.17\.0\.1\/16 but/);
    assert.match(conflict.details, /"ip addr del 192\.168\.5\.1\/24 dev cni0"/);
  });

  it("refuses a device of another kind under the bridge's name, naming its kind and the config field", () => {
    const dummy: Link = { ifname: "cni0", linkinfo: { info_kind: "dummy" }, addr_info: [inet("10.244.1.1", 24)] };
    const conflict = bridgeConflict(dummy, spec);
    assert.ok(conflict);
    assert.equal(conflict.code, ErrorCode.InvalidConfig);
    assert.equal(conflict.message, "cni0 exists but is a dummy device");
    assert.equal(conflict.details, 'set "bridge" in the network config to a free name, or delete cni0');
  });

  it("refuses a device whose kind ip does not report, as ip prints the loopback device", () => {
    const out = spawnSync("ip", ["-json", "-details", "addr", "show", "dev", "lo"], { encoding: "utf8" });
    assert.equal(out.status, 0, out.stderr);
    const [lo] = JSON.parse(out.stdout) as Link[];
    const conflict = bridgeConflict(lo, { ...spec, name: "lo" });
    assert.ok(conflict);
    assert.equal(conflict.message, "lo exists but is not a bridge");
  });

  it("checks the kind before the addresses: a veth holding the gateway is still refused", () => {
    const veth: Link = { ifname: "cni0", linkinfo: { info_kind: "veth" }, addr_info: [inet("10.244.1.1", 24)] };
    assert.match(bridgeConflict(veth, spec)?.message ?? "", /exists but is a veth device/);
  });
});
