// kubeadm over SSH with @pulumi/command: every step is a resource, ordered by resource
// dependencies (never sleeps), idempotent, and logging what it does.
//
//   per node:      wait (cloud-init, image check) -> cni (the node's conflist)
//   control plane: init (kubeadm init, its spec.podCIDR, Ready) -> kubeconfig (sealed)
//   per worker:    join-token (on the control plane, sealed) -> join (on the worker, config on stdin)
//                  -> register (on the control plane: spec.podCIDR, Ready)
//                  -> drain (nothing on create; on delete, on the control plane: drain, delete Node)
//
// Every connection pins the node's host key (nodes.ts) and dials long enough for a first
// boot (ssh.ts). No secret is ever in a command's text: the provider quotes that text when
// a command fails. Secrets travel on stdin, or come back sealed (seal.ts).
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import { renderConflistJson } from "../cni/conflist";
import { kubeadmInitScript } from "./initScript";
import { parseAdminConf, parseJoinCommand, renderInitConfig, renderJoinConfig, renderKubeconfig } from "./kubeadm";
import { type ClusterNode, SSH_USER } from "./nodes";
import {
  drainNodeScript,
  joinTokenScript,
  kubeadmJoinScript,
  readKubeconfigScript,
  registerNodeScript,
  remoteScript,
  waitForNodeScript,
  writeConflistScript,
} from "./scripts";
import { unseal } from "./seal";
import { BOOT_DIAL, type DialLimits, DRAIN_DIAL, sshConnection } from "./ssh";

export interface BootstrapArgs {
  readonly nodes: readonly ClusterNode[];
  readonly sshPrivateKeyPem: pulumi.Output<string>;
  readonly clusterCidr: string;
  readonly serviceCidr: string;
  readonly kubernetesVersion: string;
  readonly kubernetesMinor: number;
  /** Cluster, user and context name in the kubeconfig output, e.g. "<project>-<stack>". */
  readonly kubeconfigName: string;
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
  readonly drain: command.remote.Command;
}

// No script reads PULUMI_COMMAND_STDOUT/STDERR, and Ubuntu's sshd refuses to set them.
const COMMON = { addPreviousOutputInEnv: false } as const;
// What comes back sealed is not streamed to the log either; stderr carries the progress.
const SEALED = { ...COMMON, logging: "stderr" } as const;

function connectionTo(node: ClusterNode, privateKey: pulumi.Output<string>, limits: DialLimits = BOOT_DIAL) {
  return sshConnection({ host: node.publicIp, user: SSH_USER, privateKey, hostKey: node.hostPublicKey }, limits);
}

/** What the steps share: the component's name and args, the control plane, the sealing key pair. */
interface StepContext {
  readonly name: string;
  readonly args: BootstrapArgs;
  readonly controlPlane: ClusterNode;
  /** How the commands reach a node: its pinned host key, the stack's SSH key, the boot-time dial. */
  readonly connection: (node: ClusterNode) => ReturnType<typeof connectionTo>;
  readonly sealPublicKey: pulumi.Output<string>;
  readonly sealPrivateKey: pulumi.Output<string>;
}

/** A worker's steps also wait for the control plane's init. */
interface WorkerContext extends StepContext {
  readonly init: command.remote.Command;
}

/** The steps every node runs before it joins (or initialises) the cluster. */
interface NodeSteps {
  readonly wait: command.remote.Command;
  readonly cni: command.remote.Command;
}

export class KubeadmBootstrap extends pulumi.ComponentResource {
  /** Encrypts secret command output on its way back (see seal.ts); lives only in the state. */
  readonly sealKey: tls.PrivateKey;
  readonly waits: command.remote.Command[] = [];
  readonly conflists: command.remote.Command[] = [];
  readonly init: command.remote.Command;
  readonly kubeconfigCommand: command.remote.Command;
  readonly workers: WorkerBootstrap[] = [];
  /** admin.conf's credentials for the public endpoint, named after the stack; secret. */
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

    const connection = (node: ClusterNode) => connectionTo(node, args.sshPrivateKeyPem);

    this.controlPlaneConnection = connection(controlPlane);

    // Readiness and the conflist, on every node.
    const context: StepContext = { name, args, controlPlane, connection, sealPublicKey, sealPrivateKey };
    const perNode = new Map<string, NodeSteps>();
    for (const node of args.nodes) {
      const steps = this.prepareNode(node, context);
      this.waits.push(steps.wait);
      this.conflists.push(steps.cni);
      perNode.set(node.plan.name, steps);
    }
    const stepsOf = (node: ClusterNode): NodeSteps => {
      const steps = perNode.get(node.plan.name);
      if (!steps) throw new Error(`no bootstrap steps were made for ${node.plan.name}`);
      return steps;
    };

    this.init = this.initControlPlane(stepsOf(controlPlane), context);
    this.kubeconfigCommand = this.readKubeconfig(context);
    this.kubeconfig = pulumi.secret(
      pulumi
        .all([this.kubeconfigCommand.stdout, sealPrivateKey, controlPlane.publicIp])
        .apply(([stdout, key, publicIp]) =>
          renderKubeconfig({ name: args.kubeconfigName, publicIp, credentials: parseAdminConf(unseal(stdout, key)) }),
        ),
    );

    const workerContext: WorkerContext = { ...context, init: this.init };
    for (const node of args.nodes.filter((n) => n.plan.role === "worker")) {
      this.workers.push(this.bootstrapWorker(node, stepsOf(node), workerContext));
    }

    this.ready = pulumi.all([
      this.init.stdout.apply(() => controlPlane.plan.name),
      ...this.workers.map((w) => w.register.stdout.apply(() => w.node.plan.name)),
    ]);
    this.registerOutputs({ ready: this.ready });
  }

  /** A node's wait (cloud-init, the image) and then its conflist. */
  private prepareNode(node: ClusterNode, { name, args, connection: connect }: StepContext): NodeSteps {
    const connection = connect(node);
    const wait = new command.remote.Command(
      `${name}-wait-${node.plan.name}`,
      {
        ...COMMON,
        connection,
        create: remoteScript(
          waitForNodeScript({ nodeName: node.plan.name, kubernetesVersion: args.kubernetesVersion }),
        ),
        triggers: [node.instance.id],
      },
      { parent: this, dependsOn: [node.instance, ...args.dependsOn] },
    );
    const cni = new command.remote.Command(
      `${name}-cni-${node.plan.name}`,
      {
        ...COMMON,
        connection,
        create: remoteScript(
          writeConflistScript({
            nodeName: node.plan.name,
            conflistJson: renderConflistJson(node.plan, { clusterCidr: args.clusterCidr }),
          }),
        ),
        triggers: [node.instance.id],
      },
      { parent: this, dependsOn: [wait] },
    );
    return { wait, cni };
  }

  /** kubeadm init on the control plane, from the config rendered for its addresses. */
  private initControlPlane(
    { wait, cni }: NodeSteps,
    { name, args, controlPlane, connection }: StepContext,
  ): command.remote.Command {
    return new command.remote.Command(
      `${name}-init`,
      {
        ...COMMON,
        connection: connection(controlPlane),
        create: pulumi.all([controlPlane.privateIp, controlPlane.publicIp]).apply(([privateIp, publicIp]) =>
          remoteScript(
            kubeadmInitScript({
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
            }),
          ),
        ),
        triggers: [controlPlane.instance.id],
      },
      { parent: this, dependsOn: [wait, cni] },
    );
  }

  /** admin.conf, read sealed once init is done. */
  private readKubeconfig({ name, controlPlane, connection, sealPublicKey }: StepContext): command.remote.Command {
    return new command.remote.Command(
      `${name}-kubeconfig`,
      {
        ...SEALED,
        connection: connection(controlPlane),
        create: sealPublicKey.apply((pem) =>
          remoteScript(readKubeconfigScript({ controlPlaneName: controlPlane.plan.name, publicKeyPem: pem })),
        ),
        triggers: [this.init.id],
      },
      { parent: this, dependsOn: [this.init], additionalSecretOutputs: ["stdout"] },
    );
  }

  /** A worker's token, join, podCIDR and Ready, and its drain when it leaves. */
  private bootstrapWorker(
    node: ClusterNode,
    { wait, cni }: NodeSteps,
    { name, args, controlPlane, connection, init, sealPublicKey, sealPrivateKey }: WorkerContext,
  ): WorkerBootstrap {
    // A token made for this worker, by the control plane, when this worker needs it.
    const joinToken = new command.remote.Command(
      `${name}-join-token-${node.plan.name}`,
      {
        ...SEALED,
        connection: connection(controlPlane),
        create: sealPublicKey.apply((pem) =>
          remoteScript(
            joinTokenScript({
              controlPlaneName: controlPlane.plan.name,
              workerName: node.plan.name,
              publicKeyPem: pem,
            }),
          ),
        ),
        triggers: [node.instance.id, init.id],
      },
      { parent: this, dependsOn: [init], additionalSecretOutputs: ["stdout"] },
    );
    const joinLine = pulumi
      .all([joinToken.stdout, sealPrivateKey])
      .apply(([stdout, key]) => parseJoinCommand(unseal(stdout, key)));
    const join = new command.remote.Command(
      `${name}-join-${node.plan.name}`,
      {
        ...COMMON,
        connection: connection(node),
        // The CA hash is public (it names the CA's public key); the token is not.
        create: pulumi.unsecret(
          joinLine.apply((line) =>
            remoteScript(kubeadmJoinScript({ nodeName: node.plan.name, caCertHash: line.caCertHash })),
          ),
        ),
        stdin: pulumi.secret(
          pulumi.all([joinLine, node.privateIp]).apply(([line, privateIp]) =>
            renderJoinConfig({
              kubernetesMinor: args.kubernetesMinor,
              nodeName: node.plan.name,
              privateIp,
              join: line,
            }),
          ),
        ),
        triggers: [node.instance.id, init.id],
      },
      { parent: this, dependsOn: [init, wait, cni, joinToken], deleteBeforeReplace: true },
    );
    const register = new command.remote.Command(
      `${name}-register-${node.plan.name}`,
      {
        ...COMMON,
        connection: connection(controlPlane),
        create: remoteScript(
          registerNodeScript({
            controlPlaneName: controlPlane.plan.name,
            nodeName: node.plan.name,
            podCidr: node.plan.podCidr,
          }),
        ),
        triggers: [node.instance.id, init.id],
      },
      { parent: this, dependsOn: [join], deleteBeforeReplace: true },
    );
    // Its own resource so that its connection (kept in the state for the delete) can give
    // up fast; skipped when the control plane goes too (pulumi destroy), as nothing is left
    // to drain from, reachable or not.
    const drain = new command.remote.Command(
      `${name}-drain-${node.plan.name}`,
      {
        ...COMMON,
        connection: connectionTo(controlPlane, args.sshPrivateKeyPem, DRAIN_DIAL),
        delete: remoteScript(drainNodeScript({ controlPlaneName: controlPlane.plan.name, nodeName: node.plan.name })),
        triggers: [node.instance.id, init.id],
      },
      { parent: this, dependsOn: [register], deleteBeforeReplace: true, deletedWith: controlPlane.instance },
    );
    return { node, wait, cni, joinToken, join, register, drain };
  }
}
