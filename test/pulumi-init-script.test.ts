// The control plane's init script run under bash against stub kubeadm/kubectl (fakeNode.ts),
// branch by branch: a fresh node, an init that stopped part-way at each stage, a complete
// cluster, and one whose API server is down after init completed. kubeadm init's own
// bootstrap token must be gone afterwards in every branch that ends well.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { INIT_DONE_MARKER, kubeadmInitScript } from "../components/initScript";
import { renderInitConfig } from "../components/kubeadm";
import { FakeNode } from "./pulumi/fakeNode";

const script = kubeadmInitScript({
  nodeName: "control-plane",
  podCidr: "10.244.0.0/24",
  kubeadmConfig: renderInitConfig({
    kubernetesMinor: 35,
    nodeName: "control-plane",
    privateIp: "10.0.1.10",
    publicIp: "203.0.113.10",
    podSubnet: "10.244.0.0/16",
    serviceSubnet: "10.96.0.0/12",
  }),
});

/** Everything a complete init leaves in the fake cluster. */
const COMPLETE = [
  "objects/configmap_kube-system_kubeadm-config",
  "objects/configmap_kube-system_kubelet-config",
  "objects/configmap_kube-public_cluster-info",
  "objects/deployment_kube-system_coredns",
  "objects/daemonset_kube-system_kube-proxy",
  "label",
  "api-up",
];

describe("pulumi init script (run against stub kubeadm and kubectl)", () => {
  let node: FakeNode;
  beforeEach(() => {
    node = new FakeNode();
  });
  afterEach(() => node.cleanup());

  const kubeadmCalls = () => node.calls().filter((c) => c.startsWith("kubeadm ") && c !== "kubeadm version -o short");
  const initCalls = () => kubeadmCalls().map((c) => c.replace(/ --config \S+/, " --config F"));
  const run = (env: Record<string, string> = {}) => node.run(script, { env });

  function assertComplete(): void {
    for (const artefact of COMPLETE) assert.ok(node.has(artefact), `missing ${artefact}`);
    assert.equal(node.read("tokens"), "", "kubeadm init's bootstrap token is deleted");
    assert.equal(node.read("nodes/control-plane"), "10.244.0.0/24", "spec.podCIDR set");
    assert.ok(fs.existsSync(node.file(INIT_DONE_MARKER)), "init marked done");
  }

  it("a fresh node: kubeadm init, no reset, init's token deleted, podCIDR set", () => {
    const result = run();
    assert.equal(result.status, 0, result.stderr);
    assert.deepEqual(initCalls(), ["kubeadm init --config F --skip-token-print"]);
    assertComplete();
    assert.match(result.stderr, /deleted kubeadm init's bootstrap token init\d+/);
  });

  for (const stoppedAfter of [
    "wait-control-plane",
    "upload-config",
    "mark-control-plane",
    "bootstrap-token",
    "kubelet-finalize",
  ]) {
    it(`an init that stopped after ${stoppedAfter} (API server up) is finished by its last phases, not redone`, () => {
      const first = run({ PODNET_FAKE_INIT_STOPS_AFTER: stoppedAfter });
      assert.notEqual(first.status, 0, "the stub init failed, as the real one would");
      node.clearCalls();
      const again = run();
      assert.equal(again.status, 0, again.stderr);
      assert.match(
        again.stderr,
        /kubeadm init stopped part-way \(missing: [^)]*daemonset kube-system\/kube-proxy[^)]*\); running its last phases again/,
      );
      assert.deepEqual(initCalls(), [
        "kubeadm init phase upload-config all --config F",
        "kubeadm init phase mark-control-plane --config F",
        "kubeadm init phase bootstrap-token --skip-token-print --config F",
        "kubeadm init phase kubelet-finalize all --config F",
        "kubeadm init phase addon all --config F",
      ]);
      assertComplete();
    });
  }

  for (const stoppedAfter of ["certs", "kubeconfig", "control-plane"]) {
    it(`an init that stopped after ${stoppedAfter} (no API server ever) is reset and run again`, () => {
      assert.notEqual(run({ PODNET_FAKE_INIT_STOPS_AFTER: stoppedAfter }).status, 0);
      node.clearCalls();
      const again = run();
      assert.equal(again.status, 0, again.stderr);
      assert.match(again.stderr, /an earlier kubeadm init stopped before the API server answered; kubeadm reset/);
      assert.deepEqual(initCalls(), ["kubeadm reset --force", "kubeadm init --config F --skip-token-print"]);
      assertComplete();
    });
  }

  it("a complete cluster is left alone, also one initialised before the done marker existed", () => {
    assert.equal(run().status, 0);
    for (const withMarker of [true, false]) {
      if (!withMarker) fs.rmSync(node.file(INIT_DONE_MARKER));
      node.clearCalls();
      const again = run();
      assert.equal(again.status, 0, again.stderr);
      assert.match(again.stderr, /cluster already initialised; kubeadm init skipped/);
      assert.deepEqual(initCalls(), [], "no kubeadm init, phase or reset");
      assertComplete();
    }
  });

  for (const marker of ["with", "without"]) {
    it(`never resets a node where init completed (${marker} the done marker), even when its API server is down`, () => {
      assert.equal(run().status, 0);
      if (marker === "without") fs.rmSync(node.file(INIT_DONE_MARKER));
      fs.rmSync(`${node.state}/api-up`);
      node.clearCalls();
      const again = run();
      assert.notEqual(again.status, 0);
      assert.match(
        again.stderr,
        /kubeadm init completed on this node before, but the API server does not answer; .*pulumi up --replace/,
      );
      assert.deepEqual(initCalls(), []);
      assert.ok(node.has("objects/daemonset_kube-system_kube-proxy"), "nothing removed");
      assert.ok(fs.existsSync(node.file("/etc/kubernetes/admin.conf")));
    });
  }

  it("deletes only kubeadm init's own token, never a worker's join token", () => {
    fs.writeFileSync(
      `${node.state}/tokens`,
      `bootstrap-token-wrk001 ${Buffer.from("podnet: join of worker-1").toString("base64")}\n`,
    );
    const result = run();
    assert.equal(result.status, 0, result.stderr);
    assert.match(node.read("tokens"), /^bootstrap-token-wrk001 /);
    assert.equal(node.read("tokens").split("\n").filter(Boolean).length, 1);
  });
});
