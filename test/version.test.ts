import assert from "node:assert/strict";
import { compareVersions, convertResult, parsePrevResult, type Result } from "../cni/version";

const result: Result = {
  interfaces: [
    { name: "pn0123456789abc", mac: "0e:58:0a:f4:01:02", mtu: 1500 },
    { name: "eth0", mac: "0a:58:0a:f4:01:02", sandbox: "/var/run/netns/x", mtu: 1500 },
  ],
  ips: [{ address: "10.244.1.2/24", gateway: "10.244.1.1", interface: 1 }],
  routes: [{ dst: "0.0.0.0/0", gw: "10.244.1.1" }],
  dns: {},
};

describe("result conversion", () => {
  it("gives 0.3.x and 0.4.0 runtimes ips with version 4 and no interface mtu", () => {
    for (const v of ["0.3.0", "0.3.1", "0.4.0"] as const) {
      const out = convertResult(result, v) as {
        cniVersion: string;
        ips: Array<Record<string, unknown>>;
        interfaces: Array<Record<string, unknown>>;
      };
      assert.equal(out.cniVersion, v);
      assert.deepEqual(out.ips, [{ version: "4", address: "10.244.1.2/24", gateway: "10.244.1.1", interface: 1 }]);
      assert.equal(out.interfaces[1].mtu, undefined);
    }
  });
  it("gives 1.0.0 no ip version and 1.1.0 the interface mtu", () => {
    const v1 = convertResult(result, "1.0.0") as {
      ips: Array<Record<string, unknown>>;
      interfaces: Array<Record<string, unknown>>;
    };
    assert.deepEqual(v1.ips, [{ address: "10.244.1.2/24", gateway: "10.244.1.1", interface: 1 }]);
    assert.equal(v1.interfaces[1].mtu, undefined);
    const v11 = convertResult(result, "1.1.0") as { interfaces: Array<Record<string, unknown>> };
    assert.equal(v11.interfaces[1].mtu, 1500);
    assert.equal(v11.interfaces[1].sandbox, "/var/run/netns/x");
  });
  it("reads back a prevResult of any version", () => {
    for (const v of ["0.3.1", "0.4.0", "1.0.0", "1.1.0"] as const) {
      const back = parsePrevResult(JSON.parse(JSON.stringify(convertResult(result, v))));
      assert.equal(back.ips[0].address, "10.244.1.2/24");
      assert.equal(back.ips[0].interface, 1);
      assert.equal(back.interfaces[1].sandbox, "/var/run/netns/x");
    }
  });
  it("compares versions numerically", () => {
    assert.equal(compareVersions("0.10.0", "0.4.0"), 1);
    assert.equal(compareVersions("1.0.0", "1.0.0"), 0);
    assert.equal(compareVersions("0.3.1", "0.4.0"), -1);
  });
});
