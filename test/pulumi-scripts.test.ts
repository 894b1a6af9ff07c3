// What the bootstrap commands run on the nodes: the kubeadm configs, the join line
// parsing, the strict-bash scripts (syntax and shellcheck), and sealing, exercised with
// the real openssl the node image has.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { CONFLIST_PATH, renderConflistJson } from "../cni/conflist";
import { planCluster } from "../cni/plan";
import { kubeadmInitScript } from "../components/initScript";
import {
  kubeadmApiVersion,
  parseAdminConf,
  parseJoinCommand,
  renderInitConfig,
  renderJoinConfig,
  renderKubeconfig,
} from "../components/kubeadm";
import {
  drainNodeScript,
  heredoc,
  innerScript,
  joinTokenScript,
  KUBERNETES_VERSION_PLACEHOLDER,
  kubeadmJoinScript,
  readKubeconfigScript,
  registerNodeScript,
  remoteScript,
  renderUserData,
  sealFunction,
  waitForNodeScript,
  writeConflistScript,
} from "../components/scripts";
import { seal, unseal } from "../components/seal";

const yaml = require("js-yaml") as { loadAll(text: string): unknown[]; load(text: string): unknown };

const { privateKey, publicKey } = crypto.generateKeyPairSync("rsa", { modulusLength: 3072 });
const PRIVATE_PEM = privateKey.export({ type: "pkcs1", format: "pem" }).toString();
const PUBLIC_PEM = publicKey.export({ type: "spki", format: "pem" }).toString();
const CA_HASH = `sha256:${"0f".repeat(32)}`;
const JOIN_LINE = `kubeadm join 10.0.1.10:6443 --token abcdef.0123456789abcdef --discovery-token-ca-cert-hash ${CA_HASH} `;

const plan = planCluster({ clusterCidr: "10.244.0.0/16", nodeMaskSize: 24, workerCount: 2 });
const initConfig = renderInitConfig({
  kubernetesMinor: 35,
  nodeName: "control-plane",
  privateIp: "10.0.1.10",
  publicIp: "203.0.113.10",
  podSubnet: "10.244.0.0/16",
  serviceSubnet: "10.96.0.0/12",
});
const join = parseJoinCommand(JOIN_LINE);
const joinConfig = renderJoinConfig({ kubernetesMinor: 35, nodeName: "worker-1", privateIp: "10.0.1.11", join });

/** Every script the stack can send, rendered for the default plan. */
const scripts: Record<string, string> = {
  wait: waitForNodeScript({ nodeName: "worker-1", kubernetesVersion: "1.35" }),
  cni: writeConflistScript({
    nodeName: "worker-1",
    conflistJson: renderConflistJson(plan[1], { clusterCidr: "10.244.0.0/16" }),
  }),
  init: kubeadmInitScript({ nodeName: "control-plane", kubeadmConfig: initConfig, podCidr: plan[0].podCidr }),
  joinToken: joinTokenScript({ controlPlaneName: "control-plane", workerName: "worker-1", publicKeyPem: PUBLIC_PEM }),
  kubeconfig: readKubeconfigScript({ controlPlaneName: "control-plane", publicKeyPem: PUBLIC_PEM }),
  join: kubeadmJoinScript({ nodeName: "worker-1", caCertHash: join.caCertHash }),
  register: registerNodeScript({ controlPlaneName: "control-plane", nodeName: "worker-1", podCidr: plan[1].podCidr }),
  drain: drainNodeScript({ controlPlaneName: "control-plane", nodeName: "worker-1" }),
};

/** The body of a quoted here-document in a script. */
function heredocBody(script: string, delimiter: string): string {
  const start = script.indexOf(`<<'${delimiter}'\n`);
  assert.ok(start >= 0, `no ${delimiter} here-document`);
  const from = start + `<<'${delimiter}'\n`.length;
  return script.slice(from, script.indexOf(`\n${delimiter}\n`, from) + 1);
}

describe("pulumi kubeadm configs", () => {
  it("uses v1beta4 from 1.31 and v1beta3 before", () => {
    assert.equal(kubeadmApiVersion(35), "kubeadm.k8s.io/v1beta4");
    assert.equal(kubeadmApiVersion(31), "kubeadm.k8s.io/v1beta4");
    assert.equal(kubeadmApiVersion(30), "kubeadm.k8s.io/v1beta3");
  });

  it("renders init: pod/service subnets, SANs for both IPs, node CIDR allocation off (list-style args)", () => {
    const [init, cluster] = yaml.loadAll(initConfig) as any[];
    assert.equal(init.kind, "InitConfiguration");
    assert.equal(init.nodeRegistration.name, "control-plane");
    assert.equal(init.localAPIEndpoint.advertiseAddress, "10.0.1.10");
    assert.deepEqual(init.nodeRegistration.kubeletExtraArgs, [{ name: "node-ip", value: "10.0.1.10" }]);
    assert.equal(cluster.kind, "ClusterConfiguration");
    assert.equal(cluster.apiVersion, "kubeadm.k8s.io/v1beta4");
    assert.equal(cluster.networking.podSubnet, "10.244.0.0/16");
    assert.equal(cluster.networking.serviceSubnet, "10.96.0.0/12");
    assert.deepEqual(cluster.apiServer.certSANs, ["203.0.113.10", "10.0.1.10", "control-plane"]);
    assert.deepEqual(cluster.controllerManager.extraArgs, [{ name: "allocate-node-cidrs", value: "false" }]);
    assert.equal(cluster.controlPlaneEndpoint, "10.0.1.10:6443");
    assert.equal(cluster.kubernetesVersion, KUBERNETES_VERSION_PLACEHOLDER);
  });

  it("renders map-style extra args for v1beta3", () => {
    const [, cluster] = yaml.loadAll(
      renderInitConfig({
        kubernetesMinor: 30,
        nodeName: "control-plane",
        privateIp: "10.0.1.10",
        publicIp: "203.0.113.10",
        podSubnet: "10.244.0.0/16",
        serviceSubnet: "10.96.0.0/12",
      }),
    ) as any[];
    assert.equal(cluster.apiVersion, "kubeadm.k8s.io/v1beta3");
    assert.deepEqual(cluster.controllerManager.extraArgs, { "allocate-node-cidrs": "false" });
  });

  it("parses the join line and renders a JoinConfiguration named after the plan node", () => {
    assert.deepEqual(join, {
      apiServerEndpoint: "10.0.1.10:6443",
      token: "abcdef.0123456789abcdef",
      caCertHash: CA_HASH,
    });
    const config = yaml.load(joinConfig) as any;
    assert.equal(config.kind, "JoinConfiguration");
    assert.equal(config.nodeRegistration.name, "worker-1");
    assert.deepEqual(config.discovery.bootstrapToken, {
      apiServerEndpoint: "10.0.1.10:6443",
      token: "abcdef.0123456789abcdef",
      caCertHashes: [CA_HASH],
    });
    assert.deepEqual(config.nodeRegistration.kubeletExtraArgs, [{ name: "node-ip", value: "10.0.1.11" }]);
  });

  it("refuses a join line it cannot trust", () => {
    assert.throws(() => parseJoinCommand("error: token create failed"), /no `kubeadm join` line/);
    assert.throws(
      () => parseJoinCommand("kubeadm join 10.0.1.10:6443 --token bad --discovery-token-ca-cert-hash sha256:00"),
      /is not `kubeadm join HOST:PORT/,
    );
  });

  it("points the kubeconfig at the public endpoint", () => {
    const conf =
      "clusters:\n- cluster:\n    certificate-authority-data: Q0E=\n    server: https://10.0.1.10:6443\n  name: podnet\nusers:\n- user:\n    client-certificate-data: Q0VSVA==\n    client-key-data: S0VZ\n";
    const kubeconfig = yaml.load(
      renderKubeconfig({ name: "podnet-dev", publicIp: "203.0.113.10", credentials: parseAdminConf(conf) }),
    ) as any;
    assert.equal(kubeconfig.clusters[0].cluster.server, "https://203.0.113.10:6443");
    assert.throws(() => parseAdminConf("clusters: []\n"), /certificate-authority-data/);
  });
});

describe("pulumi bootstrap scripts", () => {
  it("are strict bash that passes bash -n and shellcheck, wrapped in POSIX sh that passes sh -n", function () {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "podnet-scripts-"));
    try {
      const hasShellcheck = spawnSync("shellcheck", ["--version"]).status === 0;
      if (!hasShellcheck)
        console.warn("      (shellcheck not installed: only syntax checked; npm run setup installs it)");
      for (const [name, script] of Object.entries(scripts)) {
        assert.ok(script.startsWith("#!/usr/bin/env bash\nset -euo pipefail\n"), `${name} is not strict bash`);
        const file = path.join(dir, `${name}.sh`);
        fs.writeFileSync(file, script);
        execFileSync("bash", ["-n", file]);
        if (hasShellcheck) {
          const check = spawnSync("shellcheck", ["--shell=bash", file], { encoding: "utf8" });
          assert.equal(check.status, 0, `${name}:\n${check.stdout}`);
        }
        const wrapper = path.join(dir, `${name}.remote.sh`);
        const remote = remoteScript(script);
        fs.writeFileSync(wrapper, remote);
        execFileSync("sh", ["-n", wrapper]);
        if (hasShellcheck) {
          const check = spawnSync("shellcheck", [wrapper], { encoding: "utf8" });
          assert.equal(check.status, 0, `${name} wrapper:\n${check.stdout}`);
        }
        assert.equal(innerScript(remote), script, `${name} round trip through the wrapper`);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("embed the conflist that renderConflistJson gives the node, byte for byte", () => {
    assert.equal(
      heredocBody(scripts.cni, "PODNET_CONFLIST"),
      renderConflistJson(plan[1], { clusterCidr: "10.244.0.0/16" }),
    );
    assert.ok(scripts.cni.includes(`mv -f "$tmp" ${CONFLIST_PATH}`));
  });

  it("init runs kubeadm from the rendered config with the image's version, without printing the token", () => {
    assert.equal(heredocBody(scripts.init, "PODNET_KUBEADM"), initConfig);
    assert.match(scripts.init, /^CONFIG=\/etc\/kubernetes\/podnet\/kubeadm-init\.yaml$/m);
    assert.match(scripts.init, /kubeadm init --config "\$CONFIG" --skip-token-print/);
    assert.match(scripts.init, new RegExp(`sed "s/${KUBERNETES_VERSION_PLACEHOLDER}/\\$version/"`));
    assert.match(scripts.init, /set_pod_cidr "\$NODE" '10\.244\.0\.0\/24'/);
    // Reset only where no cluster ever came up (its branches: pulumi-init-script.test.ts).
    assert.equal(scripts.init.match(/kubeadm reset --force/g)?.length, 1);
  });

  it("join skips a node already in this cluster, resets one from another, and removes the token file", () => {
    assert.ok(!scripts.join.includes(join.token), "the token comes on stdin, not in the script");
    assert.match(scripts.join, new RegExp(`WANT_CA='${CA_HASH}'`));
    assert.match(scripts.join, /already joined to this cluster; kubeadm join skipped/);
    assert.match(scripts.join, /kubeadm reset --force/);
    assert.match(scripts.join, /trap 'rm -f \/etc\/kubernetes\/podnet\/kubeadm-join\.yaml' EXIT/);
  });

  it("register sets the worker's podCIDR from the plan; drain deletes the Node, best effort", () => {
    assert.match(scripts.register, /set_pod_cidr 'worker-1' '10\.244\.1\.0\/24'/);
    assert.match(scripts.register, /podCIDRs/);
    assert.match(scripts.drain, /kubectl drain "\$TARGET" --ignore-daemonsets --delete-emptydir-data/);
    assert.match(scripts.drain, /kubectl delete node "\$TARGET" --ignore-not-found/);
  });

  it("wait checks the image's kubeadm minor against podnet:kubernetesVersion", () => {
    assert.match(scripts.wait, /WANT_MINOR='1\.35'/);
    assert.match(scripts.wait, /cloud-init status --wait/);
  });

  it("sets the hostname to the plan name", () => {
    assert.equal(
      renderUserData("worker-2", { privateKeyOpenssh: "k", publicKeyOpenssh: "ssh-ed25519 AAAA" }).split("\n")[1],
      "hostname: worker-2",
    );
  });

  it("refuses content that would end a here-document early", () => {
    assert.throws(() => heredoc("cat", "EOF", "a\nEOF\nb"), /delimiter EOF/);
    assert.doesNotThrow(() => heredoc("cat", "EOF", "a EOF\n"));
  });
});

describe("pulumi sealing", () => {
  const fakeSudo = fs.mkdtempSync(path.join(os.tmpdir(), "podnet-sudo-"));
  before(() => {
    fs.writeFileSync(path.join(fakeSudo, "sudo"), '#!/bin/sh\nexec "$@"\n', { mode: 0o755 });
  });
  after(() => fs.rmSync(fakeSudo, { recursive: true, force: true }));

  /** Runs a remote script here, as the node would (sudo is a pass-through). */
  function runRemote(script: string): { stdout: string; stderr: string } {
    const result = spawnSync("sh", ["-c", script], {
      encoding: "utf8",
      env: { ...process.env, PATH: `${fakeSudo}:${process.env.PATH}` },
    });
    assert.equal(result.status, 0, result.stderr);
    return { stdout: result.stdout, stderr: result.stderr };
  }

  it("what the node seals with openssl, the stack opens; stdout never holds the clear text", () => {
    const secret = `${JOIN_LINE}\napiVersion: v1 # é ${"x".repeat(5000)}\n`;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "podnet-seal-"));
    try {
      fs.writeFileSync(path.join(dir, "secret"), secret);
      const script = [
        "#!/usr/bin/env bash",
        "set -euo pipefail",
        sealFunction(PUBLIC_PEM),
        `seal <${path.join(dir, "secret")}`,
        "",
      ].join("\n");
      const { stdout } = runRemote(remoteScript(script));
      assert.ok(!stdout.includes("abcdef.0123456789abcdef"), "token visible in stdout");
      assert.equal(unseal(stdout, PRIVATE_PEM), secret);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a pipeline failure inside a sealing script fails the command (pipefail)", () => {
    const script = ["#!/usr/bin/env bash", "set -euo pipefail", sealFunction(PUBLIC_PEM), "false | seal", ""].join(
      "\n",
    );
    const result = spawnSync("sh", ["-c", remoteScript(script)], {
      encoding: "utf8",
      env: { ...process.env, PATH: `${fakeSudo}:${process.env.PATH}` },
    });
    assert.notEqual(result.status, 0);
  });

  it("the Node.js sealer matches, and the wrong key or a damaged line is refused", () => {
    const sealed = seal("hello", PUBLIC_PEM);
    assert.equal(unseal(`log line\n${sealed}`, PRIVATE_PEM), "hello");
    const other = crypto
      .generateKeyPairSync("rsa", { modulusLength: 2048 })
      .privateKey.export({ type: "pkcs1", format: "pem" })
      .toString();
    assert.throws(() => unseal(sealed, other));
    assert.throws(() => unseal("no output\n", PRIVATE_PEM), /no sealed output/);
  });
});
