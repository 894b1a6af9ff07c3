// The bootstrap as the real world meets it, on the resource graph `pulumi up` would send:
// connections that ride out a slow first boot and pin each node's host key, a bootstrap
// that waits for every security-group rule, a drain that cannot hold up `pulumi destroy`,
// kubeconfig names per stack, and no environment the nodes' sshd refuses.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as pulumi from "@pulumi/pulumi";
import { type ConfigKey, parseConfig } from "../components/config";
import { BOOT_DIAL, DRAIN_DIAL, dialBudgetSeconds } from "../components/ssh";
import { FakeNode } from "./pulumi/fakeNode";
import { type Built, buildCluster, isSecretValue, outputValue, type Recorded } from "./pulumi/harness";

const yaml = require("js-yaml") as { load(text: string): any };
const COMMAND = "command:remote:Command";
const INSTANCE = "aws:ec2/instance:Instance";
const KEY = "tls:index/privateKey:PrivateKey";

function config(values: Partial<Record<ConfigKey, string>> = {}) {
  return parseConfig((key) => (key === "adminCidrs" ? '["203.0.113.7/32"]' : values[key]));
}

describe("pulumi bootstrap: SSH to fresh instances", () => {
  let built: Built;
  before(async () => {
    built = await buildCluster(config({ workerCount: "2" }));
  });
  const commands = (): Recorded[] => built.byType(COMMAND);

  it("the budget model matches the provider: its defaults give up after about 11 s of fast failures", () => {
    // pulumi-command's default is 10 failed dials; retry.Until sleeps 0.1 s x1.5 up to 5 s.
    assert.ok(Math.abs(dialBudgetSeconds({ dialErrorLimit: 10, perDialTimeout: 15 }).failFast - 11.33) < 0.01);
    assert.equal(dialBudgetSeconds({ dialErrorLimit: 0, perDialTimeout: 15 }).allTimeouts, 15);
  });

  it("every command that runs something keeps dialling for minutes, and still gives up", () => {
    for (const cmd of commands().filter((c) => c.inputs.create !== undefined)) {
      const limits = {
        dialErrorLimit: cmd.inputs.connection.dialErrorLimit,
        perDialTimeout: cmd.inputs.connection.perDialTimeout,
      };
      assert.ok(
        Number.isInteger(limits.dialErrorLimit) && limits.dialErrorLimit > 0,
        `${cmd.name}: dialErrorLimit ${limits.dialErrorLimit}`,
      );
      assert.ok(
        Number.isInteger(limits.perDialTimeout) && limits.perDialTimeout > 0,
        `${cmd.name}: perDialTimeout ${limits.perDialTimeout}`,
      );
      const budget = dialBudgetSeconds(limits);
      assert.ok(
        budget.failFast >= 8 * 60,
        `${cmd.name}: gives up after ${budget.failFast.toFixed(0)} s of refused dials`,
      );
      assert.ok(budget.allTimeouts <= 30 * 60, `${cmd.name}: may dial for ${budget.allTimeouts.toFixed(0)} s`);
    }
    assert.deepEqual(
      commands().find((c) => c.name === "podnet-wait-control-plane")?.inputs.connection.dialErrorLimit,
      BOOT_DIAL.dialErrorLimit,
    );
  });

  it("the worker drain (a delete) gives up on a silent control plane within a minute", () => {
    const drains = commands().filter((c) => c.inputs.delete !== undefined);
    assert.deepEqual(drains.map((c) => c.name).sort(), ["podnet-drain-worker-1", "podnet-drain-worker-2"]);
    for (const drain of drains) {
      const { dialErrorLimit, perDialTimeout } = drain.inputs.connection;
      assert.deepEqual({ dialErrorLimit, perDialTimeout }, DRAIN_DIAL);
      assert.ok(dialBudgetSeconds({ dialErrorLimit, perDialTimeout }).allTimeouts <= 60, drain.name);
      assert.equal(drain.inputs.connection.dialErrorLimit === -1, false, "never unlimited");
    }
  });

  it("sets no PULUMI_COMMAND_STDOUT/STDERR on any session (no script reads them)", () => {
    for (const cmd of commands()) assert.equal(cmd.inputs.addPreviousOutputInEnv, false, cmd.name);
  });
});

describe("pulumi bootstrap: pinned host keys", () => {
  let built: Built;
  before(async () => {
    built = await buildCluster(config({ workerCount: "2" }));
  });
  const hostKey = (node: string) => built.one(KEY, `podnet-host-${node}`);

  it("makes one ed25519 host key per node in the stack", () => {
    const keys = built.byType(KEY).filter((k) => k.name.startsWith("podnet-host-"));
    assert.deepEqual(keys.map((k) => k.name).sort(), [
      "podnet-host-control-plane",
      "podnet-host-worker-1",
      "podnet-host-worker-2",
    ]);
    for (const key of keys) assert.equal(key.inputs.algorithm, "ED25519");
    assert.equal(new Set(keys.map((k) => k.state.publicKeyOpenssh)).size, 3, "each node its own key");
  });

  it("hands each node its key at boot in cloud-init's ssh_keys, as a secret, read once", () => {
    for (const node of ["control-plane", "worker-1", "worker-2"]) {
      const instance = built.one(INSTANCE, `podnet-${node}`);
      assert.ok(isSecretValue((instance.rawInputs as any).userData), `${node}: the user data holds a private key`);
      const userData: string = instance.inputs.userData;
      assert.ok(userData.startsWith("#cloud-config\n"));
      const cloudConfig = yaml.load(userData);
      assert.equal(cloudConfig.hostname, node);
      assert.equal(cloudConfig.ssh_deletekeys, true);
      assert.equal(cloudConfig.ssh_keys.ed25519_private, hostKey(node).state.privateKeyOpenssh);
      assert.equal(cloudConfig.ssh_keys.ed25519_public, hostKey(node).state.publicKeyOpenssh.trim());
      assert.deepEqual(Object.keys(cloudConfig.ssh_keys).sort(), ["ed25519_private", "ed25519_public"]);
      // A changed template must not stop/start (or replace) a running node.
      assert.ok(instance.ignoreChanges.includes("userData"), node);
    }
  });

  it("every connection accepts only the host key of the node it connects to", () => {
    const eip = built.byType("aws:ec2/eip:Eip")[0].state.publicIp;
    const nodeAt = new Map<string, string>([[eip, "control-plane"]]);
    for (const node of ["worker-1", "worker-2"]) nodeAt.set(built.one(INSTANCE, `podnet-${node}`).state.publicIp, node);
    const commands = built.byType(COMMAND);
    assert.ok(commands.length >= 10);
    for (const cmd of commands) {
      const node = nodeAt.get(cmd.inputs.connection.host);
      assert.ok(node, `${cmd.name} connects to ${cmd.inputs.connection.host}`);
      assert.equal(
        cmd.inputs.connection.hostKey,
        hostKey(node).state.publicKeyOpenssh.trim(),
        `${cmd.name} pins ${node}'s key`,
      );
      assert.match(
        cmd.inputs.connection.hostKey,
        /^ssh-ed25519 [A-Za-z0-9+/]+=*$/,
        "authorized_keys format, as the provider parses it",
      );
    }
  });
});

describe("pulumi bootstrap: ordering and destroy", () => {
  let built: Built;
  before(async () => {
    built = await buildCluster(config({ workerCount: "2" }));
  });

  it("nothing runs on a node before every security-group rule exists, egress included", () => {
    const rules = [
      ...built.byType("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"),
      ...built.byType("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"),
    ];
    assert.ok(
      rules.some((r) => r.type.includes("Egress")),
      "the group has an egress rule",
    );
    for (const node of ["control-plane", "worker-1", "worker-2"]) {
      const wait = built.one(COMMAND, `podnet-wait-${node}`);
      for (const rule of rules) assert.ok(wait.dependencies.includes(rule.urn), `wait-${node} before ${rule.name}`);
    }
  });

  it("the drain is skipped when the control plane goes too, so pulumi destroy needs no SSH", () => {
    const controlPlane = built.one(INSTANCE, "podnet-control-plane");
    for (const worker of ["worker-1", "worker-2"]) {
      const drain = built.one(COMMAND, `podnet-drain-${worker}`);
      assert.equal(drain.deletedWith, controlPlane.urn, `${drain.name} deletedWith the control plane`);
      assert.ok(
        drain.dependencies.includes(built.one(COMMAND, `podnet-register-${worker}`).urn),
        "drains before the worker's other steps are undone",
      );
      assert.deepEqual(
        drain.inputs.triggers,
        [`i-podnet-${worker}`, "podnet-init-id"],
        "a replaced worker is drained first",
      );
      assert.equal(drain.deleteBeforeReplace, true);
      // Nothing else has a delete: no other step dials a node on destroy.
      assert.equal(built.one(COMMAND, `podnet-register-${worker}`).inputs.delete, undefined);
    }
    assert.deepEqual(
      built.byType(COMMAND).filter((c) => c.inputs.delete !== undefined && c.deletedWith !== controlPlane.urn),
      [],
    );
  });
});

describe("pulumi bootstrap: the drain script, run against stub kubectl", () => {
  let built: Built;
  let node: FakeNode;
  before(async () => {
    built = await buildCluster(config({ workerCount: "1" }));
  });
  beforeEach(() => {
    node = new FakeNode();
    fs.mkdirSync(node.file("/etc/kubernetes"), { recursive: true });
    fs.writeFileSync(node.file("/etc/kubernetes/admin.conf"), "");
  });
  afterEach(() => node.cleanup());
  const drain = () => node.run(built.one(COMMAND, "podnet-drain-worker-1").inputs.delete);

  it("drains and deletes the worker's Node", () => {
    fs.writeFileSync(`${node.state}/api-up`, "");
    fs.writeFileSync(`${node.state}/nodes/worker-1`, "10.244.1.0/24");
    const ran = drain();
    assert.equal(ran.status, 0, ran.stderr);
    assert.ok(node.calls().some((c) => c.startsWith("kubectl drain worker-1 --ignore-daemonsets")));
    assert.ok(!node.has("nodes/worker-1"), "Node deleted");
  });

  it("succeeds with a warning when the API server does not answer, so the delete never blocks", () => {
    const ran = drain();
    assert.equal(ran.status, 0, ran.stderr);
    assert.match(ran.stderr, /warning: cannot reach the API server .*Node worker-1 not drained/);
  });
});

describe("pulumi bootstrap: kubeconfig names", () => {
  async function kubeconfigOf(stack: string): Promise<any> {
    const built = await buildCluster(config({ workerCount: "0" }), { stack });
    assert.equal(await pulumi.isSecret(built.cluster.kubeconfig), true);
    return yaml.load(await outputValue(built.cluster.kubeconfig));
  }

  it("names cluster, user and context after the project and stack, so two stacks' kubeconfigs merge", async () => {
    const dev = await kubeconfigOf("dev");
    const prod = await kubeconfigOf("prod");
    for (const [stack, kubeconfig] of [
      ["dev", dev],
      ["prod", prod],
    ] as const) {
      const name = `podnet-${stack}`;
      assert.deepEqual(
        kubeconfig.clusters.map((c: any) => c.name),
        [name],
      );
      assert.deepEqual(
        kubeconfig.users.map((u: any) => u.name),
        [`${name}-admin`],
      );
      assert.deepEqual(kubeconfig.contexts, [{ name, context: { cluster: name, user: `${name}-admin` } }]);
      assert.equal(kubeconfig["current-context"], name);
      assert.equal(kubeconfig.clusters[0].cluster.server, "https://203.0.113.10:6443");
    }
    const names = (k: any) => [...k.clusters, ...k.users, ...k.contexts].map((e: any) => e.name);
    assert.equal(names(dev).filter((n: string) => names(prod).includes(n)).length, 0, "nothing clashes when merged");
    assert.ok(!JSON.stringify(dev).includes("kubernetes-admin@"));
  });
});
