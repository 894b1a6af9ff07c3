// The cluster's nodes: one EC2 instance per plan entry (control-plane, worker-1, ...), from the
// podnet node image, reachable over SSH with a key that exists only in the stack. The Machines
// component makes them; a ClusterNode is one of them as the later steps use it.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import type { NodePlan } from "../cni/plan";
import type { ImageArch } from "./image";
import { lookupNodeImage } from "./preflight";
import { renderUserData } from "./scripts";

export const SSH_USER = "ubuntu";

export interface MachinesArgs {
  readonly plan: readonly NodePlan[];
  readonly subnetId: pulumi.Input<string>;
  readonly securityGroupId: pulumi.Input<string>;
  readonly controlPlaneInstanceType: string;
  readonly workerInstanceType: string;
  readonly rootVolumeSizeGiB: number;
  readonly amiId?: string;
  readonly amiOwner: string;
  /** The stack's region: where the image lookup looks, named when it finds nothing. */
  readonly region: string;
  readonly kubernetesVersion: string;
  readonly imageArch: ImageArch;
  /** Resources that must exist before an instance boots (the internet route, for cloud-init). */
  readonly dependsOn: pulumi.Input<pulumi.Resource>[];
}

export interface ClusterNode {
  readonly plan: NodePlan;
  readonly instance: aws.ec2.Instance;
  /** The address Pulumi (and you) reach the node at: the Elastic IP for the control plane. */
  readonly publicIp: pulumi.Output<string>;
  readonly privateIp: pulumi.Output<string>;
  readonly eni: pulumi.Output<string>;
  /** The node's SSH host key (authorized_keys format), pinned by every connection to it. */
  readonly hostPublicKey: pulumi.Output<string>;
}

/** Finds the newest image Packer built for this Kubernetes minor and architecture; refuses, naming `npm run image`, when there is none. */
export function findNodeImage(
  args: Pick<MachinesArgs, "amiOwner" | "region" | "kubernetesVersion" | "imageArch">,
  opts: pulumi.InvokeOutputOptions,
): pulumi.Output<string> {
  return lookupNodeImage(args, opts);
}

/** The instances of every node, their SSH keys, and the control plane's fixed public address. */
export class Machines extends pulumi.ComponentResource {
  readonly sshKey: tls.PrivateKey;
  readonly keyPair: aws.ec2.KeyPair;
  /** Each node's SSH host key by plan name: made here, handed to the node at boot. */
  readonly hostKeys = new Map<string, tls.PrivateKey>();
  readonly amiId: pulumi.Output<string>;
  /** Every node, in plan order (the control plane first). */
  readonly nodes: ClusterNode[];
  readonly controlPlaneEip: aws.ec2.Eip;
  /** The SSH private key (OpenSSH PEM), secret. */
  readonly sshPrivateKeyPem: pulumi.Output<string>;

  constructor(name: string, args: MachinesArgs, opts?: pulumi.ComponentResourceOptions) {
    // The type is part of every child's URN: another name would replace the running nodes.
    super("podnet:aws:Nodes", name, {}, opts);
    const parent = { parent: this };

    // The key lives only in the (encrypted) stack state: nothing is written to disk.
    this.sshKey = new tls.PrivateKey(`${name}-ssh`, { algorithm: "RSA", rsaBits: 4096 }, parent);
    this.sshPrivateKeyPem = pulumi.secret(this.sshKey.privateKeyPem);
    this.keyPair = new aws.ec2.KeyPair(`${name}-ssh`, { publicKey: this.sshKey.publicKeyOpenssh }, parent);

    this.amiId = args.amiId ? pulumi.output(args.amiId) : findNodeImage(args, { parent: this });

    const machines = args.plan.map((plan) => this.machineFor(name, plan, args));
    const controlPlane = machines.find((n) => n.plan.role === "control-plane");
    if (!controlPlane) throw new Error("the plan has no control plane");
    // A fixed public endpoint: the API certificate and the kubeconfig name it, and it
    // survives a stop/start of the instance.
    this.controlPlaneEip = new aws.ec2.Eip(
      `${name}-${controlPlane.plan.name}`,
      {
        domain: "vpc",
        instance: controlPlane.instance.id,
        tags: { Name: `${name}-${controlPlane.plan.name}` },
      },
      { parent: this, dependsOn: args.dependsOn },
    );

    const eip = this.controlPlaneEip;
    this.nodes = machines.map(({ plan, instance, hostKey }) => ({
      plan,
      instance,
      publicIp: plan.role === "control-plane" ? eip.publicIp : instance.publicIp,
      privateIp: instance.privateIp,
      eni: instance.primaryNetworkInterfaceId,
      hostPublicKey: hostKey.publicKeyOpenssh.apply((key) => key.trim()),
    }));
    this.registerOutputs({ amiId: this.amiId, controlPlanePublicIp: eip.publicIp });
  }

  /** One node's SSH host key and its instance, which boots with that key. */
  private machineFor(name: string, plan: NodePlan, args: MachinesArgs) {
    const controlPlane = plan.role === "control-plane";
    // Generated in the stack so the connections can pin it before the node first answers.
    const hostKey = new tls.PrivateKey(`${name}-host-${plan.name}`, { algorithm: "ED25519" }, { parent: this });
    this.hostKeys.set(plan.name, hostKey);
    const userData = pulumi.secret(
      pulumi
        .all([hostKey.privateKeyOpenssh, hostKey.publicKeyOpenssh])
        .apply(([privateKeyOpenssh, publicKeyOpenssh]) =>
          renderUserData(plan.name, { privateKeyOpenssh, publicKeyOpenssh }),
        ),
    );
    const instance = new aws.ec2.Instance(
      `${name}-${plan.name}`,
      {
        ami: this.amiId,
        instanceType: controlPlane ? args.controlPlaneInstanceType : args.workerInstanceType,
        subnetId: args.subnetId,
        vpcSecurityGroupIds: [args.securityGroupId],
        associatePublicIpAddress: true,
        keyName: this.keyPair.keyName,
        // The node forwards pod traffic it neither sent nor owns the address of.
        sourceDestCheck: false,
        metadataOptions: { httpEndpoint: "enabled", httpTokens: "required", httpPutResponseHopLimit: 1 },
        rootBlockDevice: {
          volumeType: "gp3",
          volumeSize: args.rootVolumeSizeGiB,
          encrypted: true,
          deleteOnTermination: true,
          tags: { Name: `${name}-${plan.name}` },
        },
        userData,
        tags: {
          Name: `${name}-${plan.name}`,
          "podnet:node": plan.name,
          "podnet:role": plan.role,
          "podnet:pod-cidr": plan.podCidr,
        },
      },
      {
        parent: this,
        dependsOn: args.dependsOn,
        // A replacement must leave the cluster (drain, Node deleted) before its successor
        // joins under the same node name.
        deleteBeforeReplace: true,
        // A newer image found by name (`npm run image` again) must not silently rebuild a
        // running cluster: new nodes get it, existing ones move with `pulumi up --replace <urn>`.
        // An explicit podnet:amiId change is deliberate and replaces the nodes.
        // User data is read once, at first boot: a changed template would only stop and
        // start a running node (the provider's in-place update) without cloud-init applying
        // it, so it reaches new nodes only; existing ones get it with --replace.
        ignoreChanges: args.amiId ? ["userData"] : ["ami", "userData"],
      },
    );
    return { plan, instance, hostKey };
  }
}
