import assert from "node:assert/strict";
import { renderConflist, renderConflistJson } from "../cni/conflist";
import { cidrsOverlap, formatCidr, macForIp, nthSubnet, parseCidr, parseIPv4, tryParseCidr } from "../cni/ipv4";
import { planCluster, planProblems } from "../cni/plan";

describe("ipv4", () => {
  it("parses and refuses addresses", () => {
    assert.equal(parseIPv4("10.244.1.2"), 0x0af40102);
    for (const bad of ["10.244.1", "256.1.1.1", "01.2.3.4", "a.b.c.d", "1.2.3.4.5", ""]) {
      assert.equal(parseIPv4(bad), undefined, bad);
    }
  });
  it("refuses host bits and names the canonical network", () => {
    const r = tryParseCidr("10.244.1.5/24");
    assert.equal(r.ok, false);
    assert.match(r.ok ? "" : r.reason, /network is 10\.244\.1\.0\/24/);
    assert.equal(tryParseCidr("10.0.0.0/33").ok, false);
    assert.equal(tryParseCidr(42).ok, false);
  });
  it("splits and overlaps", () => {
    const c = parseCidr("10.244.0.0/16");
    assert.equal(formatCidr(nthSubnet(c, 24, 2)), "10.244.2.0/24");
    assert.throws(() => nthSubnet(c, 24, 256), /holds 256/);
    assert.ok(cidrsOverlap(c, parseCidr("10.244.7.0/24")));
    assert.ok(!cidrsOverlap(c, parseCidr("10.0.0.0/16")));
  });
  it("derives a locally administered MAC from an IP", () => {
    assert.equal(macForIp(parseIPv4("10.244.1.2")!), "0a:58:0a:f4:01:02");
  });
});

describe("cluster plan", () => {
  it("gives the labs' layout by default: control plane .0, workers .1 and .2", () => {
    const plan = planCluster({ clusterCidr: "10.244.0.0/16", nodeMaskSize: 24, workerCount: 2 });
    assert.deepEqual(
      plan.map((n) => [n.name, n.role, n.podCidr, n.gateway]),
      [
        ["control-plane", "control-plane", "10.244.0.0/24", "10.244.0.1"],
        ["worker-1", "worker", "10.244.1.0/24", "10.244.1.1"],
        ["worker-2", "worker", "10.244.2.0/24", "10.244.2.1"],
      ],
    );
  });
  it("refuses more nodes than the cluster CIDR holds, naming the fields", () => {
    const problems = planProblems({ clusterCidr: "10.244.0.0/22", nodeMaskSize: 24, workerCount: 4 });
    assert.equal(problems.length, 1);
    assert.match(problems[0], /^workerCount: 5 nodes need 5 \/24 subnets but clusterCidr 10\.244\.0\.0\/22 holds 4/);
    assert.throws(() => planCluster({ clusterCidr: "10.244.0.0/22", nodeMaskSize: 24, workerCount: 4 }), /workerCount/);
    assert.match(planProblems({ clusterCidr: "10.244.0.1/16", nodeMaskSize: 24, workerCount: 1 })[0], /^clusterCidr:/);
    assert.match(planProblems({ clusterCidr: "10.244.0.0/16", nodeMaskSize: 30, workerCount: 1 })[0], /^nodeMaskSize:/);
  });
});

describe("conflist rendering", () => {
  it("renders podnet then portmap with the node's subnet", () => {
    const [, worker1] = planCluster({ clusterCidr: "10.244.0.0/16", nodeMaskSize: 24, workerCount: 2 });
    const conf = renderConflist(worker1, { clusterCidr: "10.244.0.0/16" });
    assert.equal(conf.cniVersion, "1.0.0");
    assert.deepEqual(conf.cniVersions, ["1.0.0", "1.1.0"]);
    assert.deepEqual(
      conf.plugins.map((p) => p.type),
      ["podnet", "portmap"],
    );
    const podnet = conf.plugins[0];
    assert.ok(podnet.type === "podnet");
    assert.equal(podnet.subnet, "10.244.1.0/24");
    assert.equal(podnet.bridge, "cni0");
    assert.deepEqual(JSON.parse(renderConflistJson(worker1, { clusterCidr: "10.244.0.0/16" })), conf);
  });
});
