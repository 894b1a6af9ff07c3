// The whole stack as one component: the network, the nodes, their pod routes and the
// kubeadm bootstrap, composed from a validated ClusterConfig. index.ts is just
// `new Cluster("podnet", readConfig())`; the tests build it for many configs in one process.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { type NodePlan, planCluster } from "../cni/plan";
import { KubeadmBootstrap } from "./bootstrap";
import { type ClusterConfig, kubernetesMinorOf, planInputOf, setCommand } from "./config";
import { Network } from "./network";
import { type ClusterNode, Machines, SSH_USER } from "./nodes";
import { PodRoutes } from "./podRoutes";
import { checkArchitecture, checkFixedSettings, type FixedSettings, fixedSettingsOf } from "./preflight";
import { ConnectivityCheck, type ConnectivityOutput } from "./verify";

/** One row of the `nodes` stack output: a node as a user looks it up. */
export interface NodeRow {
  readonly name: string;
  readonly role: NodePlan["role"];
  readonly privateIp: string;
  readonly publicIp: string;
  readonly podCidr: string;
  readonly eni: string;
}

/**
 * The first zone (by name) that offers every instance type the cluster uses, from the
 * region's EC2 instance type offerings.
 */
export function pickAvailabilityZone(
  offerings: { locations: readonly string[]; instanceTypes: readonly string[] },
  instanceTypes: readonly string[],
): string {
  const zones = [...new Set(offerings.locations)].sort();
  const fits = zones.find((zone) =>
    instanceTypes.every((type) =>
      offerings.locations.some((loc, i) => loc === zone && offerings.instanceTypes[i] === type),
    ),
  );
  if (!fits) {
    throw new Error(
      `podnet: no availability zone in this region offers all of ${[...new Set(instanceTypes)].join(", ")} ` +
        `(podnet:controlPlaneInstanceType, podnet:workerInstanceType); fix: ${setCommand("workerInstanceType", "t3.small")} ` +
        `or pulumi config set aws:region us-east-1`,
    );
  }
  return fits;
}

export class Cluster extends pulumi.ComponentResource {
  readonly plan: NodePlan[];
  readonly provider: aws.Provider;
  readonly network: Network;
  readonly machines: Machines;
  readonly podRoutes: PodRoutes;
  readonly bootstrap: KubeadmBootstrap;
  readonly check: ConnectivityCheck;
  readonly availabilityZone: pulumi.Output<string>;
  /** The settings a running cluster cannot change, checked against the last update's (preflight.ts). */
  readonly networkSettings: pulumi.Output<FixedSettings>;

  // Stack outputs (index.ts exports each under its own name, nodeTable as `nodes`).
  readonly controlPlanePublicIp: pulumi.Output<string>;
  readonly nodeTable: pulumi.Output<NodeRow[]>;
  readonly kubeconfig: pulumi.Output<string>;
  readonly sshPrivateKey: pulumi.Output<string>;
  readonly usage: pulumi.Output<string>;
  readonly connectivity: pulumi.Output<ConnectivityOutput>;

  constructor(name: string, config: ClusterConfig, opts?: pulumi.ComponentResourceOptions) {
    super("podnet:aws:Cluster", name, {}, opts);
    this.plan = planCluster(planInputOf(config));
    const stack = pulumi.getStack();
    const tags = { "podnet:stack": `${pulumi.getProject()}/${stack}`, "podnet:managed-by": "pulumi" };

    // Every AWS resource carries these through the provider; components add only their Name.
    // The provider waits for the fixed-settings check, so a refused change touches nothing.
    this.networkSettings = checkFixedSettings(name, fixedSettingsOf(config), this);
    const region = this.networkSettings.apply(() => config.region);
    this.provider = new aws.Provider(`${name}-aws`, { region, defaultTags: { tags } }, { parent: this });
    const childOpts = { parent: this, providers: [this.provider] };

    this.availabilityZone = this.zoneFor(config);

    this.network = new Network(
      `${name}`,
      {
        vpcCidr: config.vpcCidr,
        subnetCidr: config.subnetCidr,
        clusterCidr: config.clusterCidr,
        availabilityZone: this.availabilityZone,
        adminCidrs: config.adminCidrs,
      },
      childOpts,
    );

    this.machines = new Machines(
      `${name}`,
      {
        plan: this.plan,
        subnetId: this.network.subnet.id,
        securityGroupId: this.network.securityGroup.id,
        controlPlaneInstanceType: config.controlPlaneInstanceType,
        workerInstanceType: config.workerInstanceType,
        rootVolumeSizeGiB: config.rootVolumeSizeGiB,
        amiId: config.amiId,
        amiOwner: config.amiOwner,
        region: config.region,
        kubernetesVersion: config.kubernetesVersion,
        imageArch: config.imageArch,
        dependsOn: [this.network.defaultRoute, this.network.routeTableAssociation],
      },
      childOpts,
    );

    this.podRoutes = new PodRoutes(
      `${name}-pods`,
      {
        routeTableId: this.network.routeTable.id,
        nodes: this.machines.nodes,
      },
      childOpts,
    );

    this.bootstrap = new KubeadmBootstrap(
      `${name}`,
      {
        nodes: this.machines.nodes,
        sshPrivateKeyPem: this.machines.sshPrivateKeyPem,
        clusterCidr: config.clusterCidr,
        serviceCidr: config.serviceCidr,
        kubernetesVersion: config.kubernetesVersion,
        kubernetesMinor: kubernetesMinorOf(config),
        kubeconfigName: `${pulumi.getProject()}-${stack}`,
        dependsOn: [...this.podRoutes.routes, ...this.network.rules],
      },
      childOpts,
    );

    // The last step: the lab's checks on this cluster, once every node is Ready.
    this.check = new ConnectivityCheck(
      `${name}`,
      {
        connection: this.bootstrap.controlPlaneConnection,
        nodes: this.machines.nodes,
        ready: [this.bootstrap.init, ...this.bootstrap.workers.map((w) => w.register)],
        mode: config.verify,
      },
      childOpts,
    );

    this.controlPlanePublicIp = this.machines.controlPlaneEip.publicIp;
    this.nodeTable = nodeTableOf(this.machines.nodes);
    this.kubeconfig = this.bootstrap.kubeconfig;
    this.sshPrivateKey = this.machines.sshPrivateKeyPem;
    this.usage = this.controlPlanePublicIp.apply((ip) => usageText(stack, ip));
    this.connectivity = this.check.connectivity;
    this.registerOutputs({
      controlPlanePublicIp: this.controlPlanePublicIp,
      nodes: this.nodeTable,
      kubeconfig: this.kubeconfig,
      sshPrivateKey: this.sshPrivateKey,
      usage: this.usage,
      connectivity: this.connectivity,
      networkSettings: this.networkSettings,
    });
  }

  /**
   * The subnet's zone: the configured one, else the first (by name) offering both instance
   * types. The subnet, and so every node, also waits for the instance types to fit the image.
   */
  private zoneFor(config: ClusterConfig): pulumi.Output<string> {
    const invokeOpts = { parent: this, provider: this.provider };
    const instanceTypes = [config.controlPlaneInstanceType, config.workerInstanceType];
    const zone = config.availabilityZone
      ? pulumi.output(config.availabilityZone)
      : aws.ec2
          .getInstanceTypeOfferingsOutput(
            {
              locationType: "availability-zone",
              filters: [{ name: "instance-type", values: [...new Set(instanceTypes)] }],
            },
            invokeOpts,
          )
          .apply((offerings) => pickAvailabilityZone(offerings, instanceTypes));
    const architecture = checkArchitecture(config, invokeOpts);
    return pulumi.all([zone, architecture]).apply(([az]) => az);
  }
}

/** The `nodes` output: one row per node, in plan order. */
export function nodeTableOf(nodes: readonly ClusterNode[]): pulumi.Output<NodeRow[]> {
  return pulumi.all(
    nodes.map((node) =>
      pulumi.all([node.privateIp, node.publicIp, node.eni]).apply(
        ([privateIp, publicIp, eni]): NodeRow => ({
          name: node.plan.name,
          role: node.plan.role,
          privateIp,
          publicIp,
          podCidr: node.plan.podCidr,
          eni,
        }),
      ),
    ),
  );
}

/** How to use the kubeconfig and SSH key outputs without leaving secrets lying around. */
export function usageText(stack: string, controlPlaneIp: string): string {
  return [
    `kubectl:  pulumi stack output --stack ${stack} kubeconfig --show-secrets > kubeconfig.podnet && chmod 600 kubeconfig.podnet`,
    "          KUBECONFIG=$PWD/kubeconfig.podnet kubectl get nodes -o wide",
    "          kubectl get nodes -o custom-columns=NAME:.metadata.name,POD-CIDR:.spec.podCIDR",
    `ssh:      pulumi stack output --stack ${stack} sshPrivateKey --show-secrets | ssh-add -   (key stays in the agent, not on disk)`,
    `          ssh ${SSH_USER}@${controlPlaneIp}   (workers: the publicIp column of the nodes output)`,
    "both reach the nodes only from podnet:adminCidrs.",
  ].join("\n");
}
