// The resource graph `pulumi up` would create, built under pulumi.runtime.setMocks for the
// default config and for other worker counts: what each resource gets, what it depends
// on, and what stays secret. Values are asserted concretely (a node's route must carry
// that node's plan CIDR to that node's ENI), so a wrong wiring fails here.
import assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { renderConflistJson } from "../cni/conflist";
import { type NodePlan, planCluster } from "../cni/plan";
import { type ClusterConfig, type ConfigKey, parseConfig, planInputOf } from "../components/config";
import { amiNameFilter } from "../components/image";
import { innerScript } from "../components/scripts";
import {
  type Built,
  buildCluster,
  containsSecret,
  FAKE_ADMIN_CONF,
  FAKE_TOKEN,
  isSecretValue,
  outputValue,
  type Recorded,
} from "./pulumi/harness";

const INSTANCE = "aws:ec2/instance:Instance";
const ROUTE = "aws:ec2/route:Route";
const COMMAND = "command:remote:Command";
const INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule";
const EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule";
const ADMIN = ["203.0.113.7/32", "198.51.100.0/24"];
const yaml = require("js-yaml") as { load(text: string): any };

function configWith(values: Partial<Record<ConfigKey, string>> = {}): ClusterConfig {
  return parseConfig((key) => (key === "adminCidrs" ? JSON.stringify(ADMIN) : values[key]));
}

function heredocBody(script: string, delimiter: string): string {
  const from = script.indexOf(`<<'${delimiter}'\n`) + `<<'${delimiter}'\n`.length;
  assert.ok(from > delimiter.length, `no ${delimiter} here-document`);
  return script.slice(from, script.indexOf(`\n${delimiter}\n`, from) + 1);
}

/** The graph assertions every config must satisfy. */
function describeGraph(title: string, values: Partial<Record<ConfigKey, string>>) {
  describe(`pulumi stack graph: ${title}`, function () {
    const config = configWith(values);
    const plan: NodePlan[] = planCluster(planInputOf(config));
    let built: Built;
    const instanceOf = (node: NodePlan): Recorded => built.one(INSTANCE, `podnet-${node.name}`);
    const command = (name: string): Recorded => built.one(COMMAND, `podnet-${name}`);

    before(async () => {
      built = await buildCluster(config);
    });

    it("composes components: every resource is a child of a podnet component", () => {
      const byUrn = new Map(built.resources.map((r) => [r.urn, r]));
      for (const r of built.resources) {
        if (r.type === "podnet:aws:Cluster") {
          assert.equal(r.parent, "", "the Cluster is the root component");
          continue;
        }
        const parent = byUrn.get(r.parent);
        assert.ok(parent, `${r.type} ${r.name} has no recorded parent`);
        assert.match(parent.type, /^podnet:aws:/, `${r.name} is parented to ${parent.type}`);
      }
      for (const component of ["Network", "Nodes", "PodRoutes", "KubeadmBootstrap"]) {
        assert.equal(built.byType(`podnet:aws:${component}`).length, 1, component);
      }
    });

    it("creates one instance per plan node: source/dest check off, IMDSv2 required, encrypted gp3 root", () => {
      const instances = built.byType(INSTANCE);
      assert.equal(instances.length, plan.length);
      for (const node of plan) {
        const { inputs } = instanceOf(node);
        assert.equal(inputs.sourceDestCheck, false, node.name);
        assert.equal(inputs.metadataOptions.httpTokens, "required", node.name);
        assert.equal(inputs.metadataOptions.httpEndpoint, "enabled", node.name);
        assert.equal(inputs.rootBlockDevice.encrypted, true, node.name);
        assert.equal(inputs.rootBlockDevice.volumeType, "gp3", node.name);
        assert.equal(inputs.rootBlockDevice.volumeSize, config.rootVolumeSizeGiB, node.name);
        assert.equal(inputs.ami, config.amiId ?? "ami-0fedcba9876543210", node.name);
        assert.equal(
          inputs.instanceType,
          node.role === "control-plane" ? config.controlPlaneInstanceType : config.workerInstanceType,
        );
        assert.match(inputs.userData, new RegExp(`^hostname: ${node.name}$`, "m"));
        assert.equal(inputs.keyName, "podnet-ssh-key", "the stack key pair");
        assert.equal(inputs.subnetId, "podnet-subnet-id");
        assert.deepEqual(inputs.vpcSecurityGroupIds, ["podnet-nodes-id"]);
        assert.equal(
          instanceOf(node).deleteBeforeReplace,
          true,
          `${node.name} must leave the cluster before its successor joins`,
        );
      }
    });

    it("routes each node's pod CIDR to that node's primary ENI: exactly one route per node, plus the default route", () => {
      const routes = built.byType(ROUTE);
      const routeTableId = "podnet-rt-id";
      const podRoutes = routes.filter((r) => r.inputs.networkInterfaceId !== undefined);
      assert.equal(podRoutes.length, plan.length);
      for (const node of plan) {
        const eni = instanceOf(node).state.primaryNetworkInterfaceId;
        assert.equal(eni, `eni-podnet-${node.name}`);
        const mine = podRoutes.filter((r) => r.inputs.networkInterfaceId === eni);
        assert.equal(mine.length, 1, `${node.name} has ${mine.length} routes`);
        assert.equal(mine[0].inputs.destinationCidrBlock, node.podCidr, node.name);
        assert.equal(mine[0].inputs.routeTableId, routeTableId);
      }
      const others = routes.filter((r) => r.inputs.networkInterfaceId === undefined);
      assert.deepEqual(
        others.map((r) => [r.inputs.destinationCidrBlock, r.inputs.gatewayId]),
        [["0.0.0.0/0", "podnet-igw-id"]],
      );
      assert.ok(routes.length <= config.routeTableQuota);
      // No inline routes on the table: they would fight the route resources.
      assert.equal(built.byType("aws:ec2/routeTable:RouteTable")[0].inputs.routes, undefined);
      const subnet = built.byType("aws:ec2/subnet:Subnet")[0].inputs;
      assert.equal(subnet.cidrBlock, config.subnetCidr);
      assert.equal(subnet.availabilityZone, config.availabilityZone ?? "us-east-1b");
      assert.equal(built.byType("aws:ec2/vpc:Vpc")[0].inputs.cidrBlock, config.vpcCidr);
    });

    it("opens SSH and the API server only to the admin CIDRs, everything to nodes and pods, nothing else", () => {
      const sg = built.byType("aws:ec2/securityGroup:SecurityGroup");
      assert.equal(sg.length, 1);
      assert.equal(sg[0].inputs.ingress, undefined, "no inline rules");
      const sgId = `${sg[0].name}-id`;
      const rules = built.byType(INGRESS).map((r) => r.inputs);
      for (const rule of rules) {
        assert.equal(rule.securityGroupId, sgId);
        assert.notEqual(rule.cidrIpv4, "0.0.0.0/0");
        assert.equal(rule.cidrIpv6, undefined);
      }
      const summary = rules
        .map(
          (r) =>
            `${r.ipProtocol} ${r.fromPort ?? "*"}-${r.toPort ?? "*"} from ${r.cidrIpv4 ?? (r.referencedSecurityGroupId === sgId ? "self" : r.referencedSecurityGroupId)}`,
        )
        .sort();
      const expected = [
        ...ADMIN.flatMap((cidr) => [`tcp 22-22 from ${cidr}`, `tcp 6443-6443 from ${cidr}`]),
        "-1 *-* from self",
        `-1 *-* from ${config.clusterCidr}`,
      ].sort();
      assert.deepEqual(summary, expected);
      const egress = built.byType(EGRESS).map((r) => [r.inputs.ipProtocol, r.inputs.cidrIpv4]);
      assert.deepEqual(egress, [["-1", "0.0.0.0/0"]]);
    });

    it("gives each node the conflist renderConflistJson renders for its plan entry, matching its route", () => {
      const routes = built.byType(ROUTE);
      for (const node of plan) {
        const cni = command(`cni-${node.name}`);
        const body = heredocBody(innerScript(cni.inputs.create), "PODNET_CONFLIST");
        assert.equal(body, renderConflistJson(node, { clusterCidr: config.clusterCidr }));
        const route = routes.find(
          (r) => r.inputs.networkInterfaceId === instanceOf(node).state.primaryNetworkInterfaceId,
        );
        assert.equal(JSON.parse(body).plugins[0].subnet, route?.inputs.destinationCidrBlock, node.name);
        assert.equal(JSON.parse(body).plugins[0].clusterCidr, config.clusterCidr);
      }
    });

    it("runs each node's commands on that node, over SSH as ubuntu with the stack's key", () => {
      const eip = built.byType("aws:ec2/eip:Eip")[0].state.publicIp;
      for (const node of plan) {
        const host = node.role === "control-plane" ? eip : instanceOf(node).state.publicIp;
        for (const step of ["wait", "cni", ...(node.role === "worker" ? ["join"] : ["init", "kubeconfig"])]) {
          const cmd = command(step === "init" || step === "kubeconfig" ? step : `${step}-${node.name}`);
          assert.equal(cmd.inputs.connection.host, host, `${step} on ${node.name}`);
          assert.equal(cmd.inputs.connection.user, "ubuntu");
          assert.match(cmd.inputs.connection.privateKey, /BEGIN RSA PRIVATE KEY/);
        }
      }
    });

    it("orders the bootstrap by dependencies: wait -> conflist -> init -> token -> join -> register", () => {
      const urn = (name: string) => command(name).urn;
      const deps = (name: string) => command(name).dependencies;
      for (const node of plan) {
        assert.ok(deps(`cni-${node.name}`).includes(urn(`wait-${node.name}`)), `cni-${node.name} after wait`);
        assert.ok(deps(`wait-${node.name}`).includes(instanceOf(node).urn));
      }
      const cp = plan[0].name;
      assert.ok(deps("init").includes(urn(`cni-${cp}`)), "init after the control plane's conflist");
      assert.ok(deps("init").includes(urn(`wait-${cp}`)));
      assert.ok(deps("kubeconfig").includes(urn("init")));
      for (const node of plan.slice(1)) {
        const join = deps(`join-${node.name}`);
        assert.ok(join.includes(urn("init")), `join-${node.name} depends on init`);
        assert.ok(join.includes(urn(`cni-${node.name}`)), `join-${node.name} depends on its conflist`);
        assert.ok(join.includes(urn(`join-token-${node.name}`)), `join-${node.name} depends on its token`);
        for (const other of plan.slice(1).filter((o) => o.name !== node.name)) {
          assert.ok(!join.includes(urn(`cni-${other.name}`)), `join-${node.name} must not wait for ${other.name}`);
        }
        assert.ok(deps(`join-token-${node.name}`).includes(urn("init")));
        assert.ok(deps(`register-${node.name}`).includes(urn(`join-${node.name}`)));
      }
      // Pod routes exist before any node is declared ready.
      for (const route of built.byType(ROUTE).filter((r) => r.inputs.networkInterfaceId)) {
        assert.ok(deps(`wait-${cp}`).includes(route.urn));
      }
    });

    it("makes a token per worker, joins it under its plan name, sets its podCIDR, drains it on removal", () => {
      assert.equal(
        built.byType(COMMAND).filter((c) => c.name.startsWith("podnet-join-token-")).length,
        plan.length - 1,
      );
      for (const node of plan.slice(1)) {
        const token = command(`join-token-${node.name}`);
        assert.match(
          innerScript(token.inputs.create),
          new RegExp(
            `kubeadm token create --ttl \\S+ --description 'podnet: join of ${node.name}' --print-join-command \\| seal`,
          ),
        );
        assert.ok(token.additionalSecretOutputs?.includes("stdout"), "the join line on stdout is secret");
        assert.deepEqual(token.inputs.triggers, [`i-podnet-${node.name}`, "podnet-init-id"]);

        const join = command(`join-${node.name}`);
        const joinConfig: string = join.inputs.stdin;
        assert.match(joinConfig, new RegExp(`name: "${node.name}"`));
        assert.match(joinConfig, new RegExp(`token: "${FAKE_TOKEN}"`));
        assert.match(joinConfig, new RegExp(`value: "${instanceOf(node).state.privateIp.replace(/\./g, "\\.")}"`));
        assert.equal(join.deleteBeforeReplace, true);

        const register = command(`register-${node.name}`);
        assert.match(
          innerScript(register.inputs.create),
          new RegExp(`set_pod_cidr '${node.name}' '${node.podCidr.replace(/\./g, "\\.")}'`),
        );
        assert.equal(register.deleteBeforeReplace, true);
        const drain = command(`drain-${node.name}`);
        assert.match(innerScript(drain.inputs.delete), new RegExp(`TARGET='${node.name}'`));
        assert.match(innerScript(drain.inputs.delete), /kubectl drain "\$TARGET"/);
        assert.equal(drain.inputs.create, undefined, "the drain does nothing until the worker leaves");
        assert.equal(
          register.inputs.connection.host,
          built.byType("aws:ec2/eip:Eip")[0].state.publicIp,
          "register runs on the control plane",
        );
      }
      const init = innerScript(command("init").inputs.create);
      assert.match(init, new RegExp(`set_pod_cidr "\\$NODE" '${plan[0].podCidr.replace(/\./g, "\\.")}'`));
      assert.match(init, new RegExp(`podSubnet: "${config.clusterCidr.replace(/\./g, "\\.")}"`));
      assert.match(init, new RegExp(`serviceSubnet: "${config.serviceCidr.replace(/\./g, "\\.")}"`));
      assert.match(init, /- "203\.0\.113\.10"\n {4}- "10\.0\.1\.10"/, "certSANs: public and private IP");
      assert.match(init, /name: "allocate-node-cidrs"\n {6}value: "false"/);
    });

    it("keeps secrets secret: key, kubeconfig, join scripts, connections, sealed outputs", async () => {
      assert.equal(await pulumi.isSecret(built.cluster.kubeconfig), true);
      assert.equal(await pulumi.isSecret(built.cluster.sshPrivateKey), true);
      assert.equal(await pulumi.isSecret(built.cluster.nodeTable), false);
      for (const node of plan.slice(1)) {
        assert.ok(
          isSecretValue((command(`join-${node.name}`).rawInputs as any).stdin),
          `join-${node.name} stdin (holds the token) is secret`,
        );
      }
      for (const cmd of built.byType(COMMAND)) {
        assert.ok(
          containsSecret((cmd.rawInputs as any).connection),
          `${cmd.name}: the SSH key in the connection is secret`,
        );
        // No command's stdout carries a secret in clear: secret output is sealed.
        assert.ok(!String(cmd.state.stdout).includes(FAKE_TOKEN), `${cmd.name} stdout`);
      }
      assert.ok(
        command("kubeconfig").additionalSecretOutputs?.includes("stdout"),
        "the sealed kubeconfig on stdout is secret",
      );
      for (const key of built.byType("tls:index/privateKey:PrivateKey")) {
        assert.equal(key.inputs.algorithm, key.name.startsWith("podnet-host-") ? "ED25519" : "RSA", key.name);
      }
      assert.ok(
        !built.resources.some((r) => r.type.startsWith("local:") || r.type.includes("local_file")),
        "nothing writes the key to disk",
      );
    });

    it("outputs the control plane IP, the node table, and a kubeconfig for the public endpoint", async () => {
      const eip = built.byType("aws:ec2/eip:Eip")[0];
      assert.equal(eip.inputs.instance, `i-podnet-${plan[0].name}`);
      assert.equal(await outputValue(built.cluster.controlPlanePublicIp), eip.state.publicIp);
      const rows = await outputValue(built.cluster.nodeTable);
      assert.deepEqual(
        rows,
        plan.map((node) => ({
          name: node.name,
          role: node.role,
          privateIp: instanceOf(node).state.privateIp,
          publicIp: node.role === "control-plane" ? eip.state.publicIp : instanceOf(node).state.publicIp,
          podCidr: node.podCidr,
          eni: instanceOf(node).state.primaryNetworkInterfaceId,
        })),
      );
      const kubeconfig = yaml.load(await outputValue(built.cluster.kubeconfig));
      assert.equal(kubeconfig.clusters[0].cluster.server, `https://${eip.state.publicIp}:6443`);
      assert.equal(kubeconfig.users[0].user["client-key-data"], /client-key-data: (\S+)/.exec(FAKE_ADMIN_CONF)?.[1]);
      assert.match(
        await outputValue(built.cluster.usage),
        /pulumi stack output --stack test kubeconfig --show-secrets/,
      );
    });
  });
}

describeGraph("default config (control plane + 2 workers)", {});
describeGraph("4 workers", { workerCount: "4" });
describeGraph("no workers", { workerCount: "0" });
describeGraph("other CIDRs, an explicit AMI and zone", {
  workerCount: "3",
  vpcCidr: "172.31.0.0/16",
  subnetCidr: "172.31.8.0/22",
  clusterCidr: "10.32.0.0/16",
  nodeMaskSize: "26",
  serviceCidr: "10.100.0.0/16",
  amiId: "ami-0123456789abcdef0",
  availabilityZone: "us-east-1c",
});

describe("pulumi stack: changes", () => {
  it("adding a worker adds its resources and leaves every existing one untouched", async () => {
    const two = await buildCluster(configWith({ workerCount: "2" }));
    const three = await buildCluster(configWith({ workerCount: "3" }));
    for (const r of two.resources) {
      const same = three.one(r.type, r.name);
      // The connectivity check must run again for the new node set (test/pulumi-verify.test.ts).
      if (r.name === "podnet-verify") continue;
      assert.deepEqual(same.inputs, r.inputs, `${r.type} ${r.name} would change`);
    }
    const added = three.resources
      .filter((r) => !two.resources.some((o) => o.type === r.type && o.name === r.name))
      .map((r) => `${r.type.split(":").pop()} ${r.name}`);
    assert.deepEqual(added.sort(), [
      "Command podnet-cni-worker-3",
      "Command podnet-drain-worker-3",
      "Command podnet-join-token-worker-3",
      "Command podnet-join-worker-3",
      "Command podnet-register-worker-3",
      "Command podnet-wait-worker-3",
      "Instance podnet-worker-3",
      "PrivateKey podnet-host-worker-3",
      "Route podnet-pods-worker-3",
    ]);
  });

  it("finds the image Packer built by name unless an AMI is given, and does not rebuild nodes for a newer one", async () => {
    const found = await buildCluster(configWith());
    const ami = found.calls.filter((c) => c.token === "aws:ec2/getAmiIds:getAmiIds");
    assert.equal(ami.length, 1);
    assert.deepEqual(ami[0].inputs.owners, ["self"]);
    assert.deepEqual(ami[0].inputs.filters.find((f: any) => f.name === "name").values, [
      amiNameFilter("1.35", "x86_64"),
    ]);
    assert.notEqual(ami[0].inputs.sortAscending, true, "newest first");
    assert.deepEqual(found.byType(INSTANCE)[0].ignoreChanges, ["ami", "userData"]);

    const explicit = await buildCluster(configWith({ amiId: "ami-0123456789abcdef0" }));
    assert.equal(explicit.calls.filter((c) => c.token === "aws:ec2/getAmiIds:getAmiIds").length, 0);
    assert.deepEqual(explicit.byType(INSTANCE)[0].ignoreChanges, ["userData"]);
  });

  it("puts the subnet in the first zone offering both instance types, in the configured region", async () => {
    const built = await buildCluster(configWith({ region: "us-east-1" }));
    assert.equal(built.byType("aws:ec2/subnet:Subnet")[0].inputs.availabilityZone, "us-east-1b");
    const provider = built.byType("pulumi:providers:aws");
    assert.equal(provider.length, 1);
    assert.equal(provider[0].inputs.region, "us-east-1");
    assert.deepEqual(JSON.parse(provider[0].inputs.defaultTags), {
      tags: { "podnet:stack": "podnet/test", "podnet:managed-by": "pulumi" },
    });
    const offerings = built.calls.find((c) => c.token === "aws:ec2/getInstanceTypeOfferings:getInstanceTypeOfferings");
    assert.deepEqual(offerings?.inputs.filters, [{ name: "instance-type", values: ["t3.medium", "t3.small"] }]);
  });
});

describe("pulumi stack: preview", () => {
  it("shows the whole graph while provider outputs are still unknown, without opening secrets", async () => {
    const up = await buildCluster(configWith());
    const preview = await buildCluster(configWith(), { preview: true });
    const names = (b: Built) => b.resources.map((r) => `${r.type} ${r.name}`).sort();
    assert.deepEqual(names(preview), names(up), "preview registers every resource up would");
    assert.equal(await (preview.cluster.kubeconfig as any).isKnown, false, "the kubeconfig is unknown until up");
    const join = preview.one(COMMAND, "podnet-join-worker-1");
    assert.ok(join.dependencies.includes(preview.one(COMMAND, "podnet-init").urn));
    assert.ok(join.dependencies.includes(preview.one(COMMAND, "podnet-cni-worker-1").urn));
    // Known at preview: each route's destination and each node's conflist.
    const routes = preview.byType(ROUTE).filter((r) => r.name.startsWith("podnet-pods-"));
    assert.deepEqual(routes.map((r) => r.inputs.destinationCidrBlock).sort(), [
      "10.244.0.0/24",
      "10.244.1.0/24",
      "10.244.2.0/24",
    ]);
    assert.match(preview.one(COMMAND, "podnet-cni-worker-2").inputs.create, /"subnet": "10\.244\.2\.0\/24"/);
  });
});
