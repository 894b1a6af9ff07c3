// One VPC route per node: the node's pod CIDR (from the plan) to the node's primary ENI.
// This is what carries cross-node pod traffic without an overlay.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { ClusterNode } from "./nodes";

export interface PodRoutesArgs {
  readonly routeTableId: pulumi.Input<string>;
  readonly nodes: readonly ClusterNode[];
}

export class PodRoutes extends pulumi.ComponentResource {
  readonly routes: aws.ec2.Route[];

  constructor(name: string, args: PodRoutesArgs, opts?: pulumi.ComponentResourceOptions) {
    super("podnet:aws:PodRoutes", name, {}, opts);
    this.routes = args.nodes.map(
      (node) =>
        new aws.ec2.Route(
          `${name}-${node.plan.name}`,
          {
            routeTableId: args.routeTableId,
            destinationCidrBlock: node.plan.podCidr,
            networkInterfaceId: node.eni,
          },
          { parent: this },
        ),
    );
    this.registerOutputs({ routes: this.routes.map((r) => r.destinationCidrBlock) });
  }
}
