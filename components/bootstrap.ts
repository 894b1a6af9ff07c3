// kubeadm over SSH with @pulumi/command: every step is a resource, ordered by resource
// dependencies (never sleeps), idempotent, and logging what it does.
//
//   per node:      wait (cloud-init, image check) -> cni (the node's conflist)
//   control plane: init (kubeadm init, its spec.podCIDR, Ready) -> kubeconfig (sealed)
//   per worker:    join-token (on the control plane, sealed) -> join (on the worker)
//                  -> register (on the control plane: spec.podCIDR, Ready; on delete: drain, delete Node)
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import { renderConflistJson } from "../cni/conflist";
import { parseJoinCommand, renderInitConfig, renderJoinConfig, rewriteKubeconfigServer } from "./kubeadm";
import { SSH_USER, type ClusterNode } from "./nodes";
import {
  drainNodeScript,
  kubeadmInitScript,
  kubeadmJoinScript,
  readKubeconfigScript,
  registerNodeScript,
  remoteScript,
  waitForNodeScript,
  joinTokenScript,
  writeConflistScript,
} from "./scripts";
import { unseal } from "./seal";

export interface BootstrapArgs {
  readonly nodes: readonly ClusterNode[];
  readonly sshPrivateKeyPem: pulumi.Output<string>;
  readonly clusterCidr: string;
  readonly serviceCidr: string;
  readonly kubernetesVersion: string;
  readonly kubernetesMinor: number;
  /** Must exist before any command runs (e.g. the pod routes, so Ready means pods can talk). */
  readonly dependsOn: pulumi.Input<pulumi.Resource>[];
}

export interface WorkerBootstrap {
  readonly node: ClusterNode;
  readonly wait: command.remote.Command;
  readonly cni: command.remote.Command;
  readonly joinToken: command.remote.Command;
  readonly join: command.remote.Command;
  readonly register: command.remote.Command;
}

export class KubeadmBootstrap extends pulumi.ComponentResource {
  /** Encrypts secret command output on its way back (see seal.ts); lives only in the state. */
  readonly sealKey: tls.PrivateKey;
  readonly waits: command.remote.Command[] = [];
  readonly conflists: command.remote.Command[] = [];
  readonly init: command.remote.Command;
  readonly kubeconfigCommand: command.remote.Command;
  readonly workers: WorkerBootstrap[] = [];
  /** admin.conf with the server rewritten to the public endpoint; secret. */
  readonly kubeconfig: pulumi.Output<string>;
  /** Resolves once every node has joined and reported Ready. */
  readonly ready: pulumi.Output<string[]>;
  /** How the commands reach the control plane, for steps that run there after the bootstrap. */
  readonly controlPlaneConnection: command.types.input.remote.ConnectionArgs;

  constructor(name: string, args: BootstrapArgs, opts?: pulumi.ComponentResourceOptions) {
    super("podnet:aws:KubeadmBootstrap", name, {}, opts);
    const controlPlane = args.nodes.find((n) => n.plan.role === "control-plane");
    if (!controlPlane) throw new Error("the cluster has no control plane");

    this.sealKey = new tls.PrivateKey(`${name}-seal`, { algorithm: "RSA", rsaBits: 3072 }, { parent: this });
    const sealPublicKey = this.sealKey.publicKeyPem;
    const sealPrivateKey = pulumi.secret(this.sealKey.privateKeyPem);

    const connection = (node: ClusterNode): command.types.input.remote.ConnectionArgs => ({
      host: node.publicIp,
      user: SSH_USER,
      privateKey: args.sshPrivateKeyPem,
    });

    this.controlPlaneConnection = connection(controlPlane);

    // Readiness and the conflist, on every node.
    const perNode = new Map<string, { wait: command.remote.Command; cni: command.remote.Command }>();
    for (const node of args.nodes) {
      const wait = new command.remote.Command(`${name}-wait-${node.plan.name}`, {
        connection: connection(node),
        create: remoteScript(waitForNodeScript({ nodeName: node.plan.name, kubernetesVersion: args.kubernetesVersion })),
        triggers: [node.instance.id],
      }, { parent: this, dependsOn: [node.instance, ...args.dependsOn] });
      const cni = new command.remote.Command(`${name}-cni-${node.plan.name}`, {
        connection: connection(node),
        create: remoteScript(writeConflistScript({
          nodeName: node.plan.name,
          conflistJson: renderConflistJson(node.plan, { clusterCidr: args.clusterCidr }),
        })),
        triggers: [node.instance.id],
      }, { parent: this, dependsOn: [wait] });
      this.waits.push(wait);
      this.conflists.push(cni);
      perNode.set(node.plan.name, { wait, cni });
    }

    const cp = perNode.get(controlPlane.plan.name)!;
    this.init = new command.remote.Command(`${name}-init`, {
      connection: connection(controlPlane),
      create: pulumi.all([controlPlane.privateIp, controlPlane.publicIp]).apply(([privateIp, publicIp]) =>
        remoteScript(kubeadmInitScript({
          nodeName: controlPlane.plan.name,
          podCidr: controlPlane.plan.podCidr,
          kubeadmConfig: renderInitConfig({
            kubernetesMinor: args.kubernetesMinor,
            nodeName: controlPlane.plan.name,
            privateIp,
            publicIp,
            podSubnet: args.clusterCidr,
            serviceSubnet: args.serviceCidr,
          }),
        })),
      ),
      triggers: [controlPlane.instance.id],
    }, { parent: this, dependsOn: [cp.wait, cp.cni] });

    this.kubeconfigCommand = new command.remote.Command(`${name}-kubeconfig`, {
      connection: connection(controlPlane),
      create: sealPublicKey.apply((pem) => remoteScript(readKubeconfigScript({ controlPlaneName: controlPlane.plan.name, publicKeyPem: pem }))),
      triggers: [this.init.id],
    }, { parent: this, dependsOn: [this.init], additionalSecretOutputs: ["stdout"] });
    this.kubeconfig = pulumi.secret(
      pulumi
        .all([this.kubeconfigCommand.stdout, sealPrivateKey, controlPlane.publicIp])
        .apply(([stdout, key, publicIp]) => rewriteKubeconfigServer(unseal(stdout, key), publicIp)),
    );

    for (const node of args.nodes.filter((n) => n.plan.role === "worker")) {
      const { wait, cni } = perNode.get(node.plan.name)!;
      // A token made for this worker, by the control plane, when this worker needs it.
      const joinToken = new command.remote.Command(`${name}-join-token-${node.plan.name}`, {
        connection: connection(controlPlane),
        create: sealPublicKey.apply((pem) =>
          remoteScript(joinTokenScript({ controlPlaneName: controlPlane.plan.name, workerName: node.plan.name, publicKeyPem: pem })),
        ),
        triggers: [node.instance.id, this.init.id],
      }, { parent: this, dependsOn: [this.init], additionalSecretOutputs: ["stdout"] });
      const joinCreate = pulumi.secret(
        pulumi.all([joinToken.stdout, sealPrivateKey, node.privateIp]).apply(([stdout, key, privateIp]) => {
          const join = parseJoinCommand(unseal(stdout, key));
          return remoteScript(kubeadmJoinScript({
            nodeName: node.plan.name,
            caCertHash: join.caCertHash,
            joinConfig: renderJoinConfig({ kubernetesMinor: args.kubernetesMinor, nodeName: node.plan.name, privateIp, join }),
          }));
        }),
      );
      const join = new command.remote.Command(`${name}-join-${node.plan.name}`, {
        connection: connection(node),
        create: joinCreate,
        triggers: [node.instance.id, this.init.id],
      }, { parent: this, dependsOn: [this.init, wait, cni, joinToken], deleteBeforeReplace: true });
      const register = new command.remote.Command(`${name}-register-${node.plan.name}`, {
        connection: connection(controlPlane),
        create: remoteScript(registerNodeScript({ controlPlaneName: controlPlane.plan.name, nodeName: node.plan.name, podCidr: node.plan.podCidr })),
        delete: remoteScript(drainNodeScript({ controlPlaneName: controlPlane.plan.name, nodeName: node.plan.name })),
        triggers: [node.instance.id, this.init.id],
      }, { parent: this, dependsOn: [join], deleteBeforeReplace: true });
      this.workers.push({ node, wait, cni, joinToken, join, register });
    }

    this.ready = pulumi.all([
      this.init.stdout.apply(() => controlPlane.plan.name),
      ...this.workers.map((w) => w.register.stdout.apply(() => w.node.plan.name)),
    ]);
    this.registerOutputs({ ready: this.ready });
  }
}
