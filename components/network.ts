// The VPC the cluster lives in: one public subnet, an internet gateway, the route table
// the pod routes are added to, and the nodes' security group.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { awsProtocol, nodeSecurityGroup, type SgRule } from "../model/securityGroups";

export interface NetworkArgs {
  readonly vpcCidr: string;
  readonly subnetCidr: string;
  readonly clusterCidr: string;
  readonly availabilityZone: pulumi.Input<string>;
  readonly adminCidrs: readonly string[];
}

export class Network extends pulumi.ComponentResource {
  readonly vpc: aws.ec2.Vpc;
  readonly subnet: aws.ec2.Subnet;
  readonly internetGateway: aws.ec2.InternetGateway;
  readonly routeTable: aws.ec2.RouteTable;
  /** 0.0.0.0/0 via the internet gateway; pod routes live next to it as separate resources. */
  readonly defaultRoute: aws.ec2.Route;
  readonly routeTableAssociation: aws.ec2.RouteTableAssociation;
  readonly securityGroup: aws.ec2.SecurityGroup;
  readonly ingressRules: aws.vpc.SecurityGroupIngressRule[] = [];
  readonly egressRules: aws.vpc.SecurityGroupEgressRule[] = [];

  /** Every rule of the nodes' group, ingress and egress: what a node needs before it can bootstrap. */
  get rules(): Array<aws.vpc.SecurityGroupIngressRule | aws.vpc.SecurityGroupEgressRule> {
    return [...this.ingressRules, ...this.egressRules];
  }

  constructor(name: string, args: NetworkArgs, opts?: pulumi.ComponentResourceOptions) {
    super("podnet:aws:Network", name, {}, opts);
    const parent = { parent: this };
    // The provider tags every resource with the stack; each gets its Name here.
    const tagged = (suffix: string) => ({ Name: `${name}-${suffix}` });

    this.vpc = new aws.ec2.Vpc(
      `${name}-vpc`,
      {
        cidrBlock: args.vpcCidr,
        enableDnsSupport: true,
        enableDnsHostnames: true,
        tags: tagged("vpc"),
      },
      parent,
    );

    this.internetGateway = new aws.ec2.InternetGateway(
      `${name}-igw`,
      { vpcId: this.vpc.id, tags: tagged("igw") },
      parent,
    );

    this.subnet = new aws.ec2.Subnet(
      `${name}-subnet`,
      {
        vpcId: this.vpc.id,
        cidrBlock: args.subnetCidr,
        availabilityZone: args.availabilityZone,
        mapPublicIpOnLaunch: true,
        tags: tagged("subnet"),
      },
      parent,
    );

    // No inline routes: inline routes and aws.ec2.Route resources on one table fight each other.
    this.routeTable = new aws.ec2.RouteTable(`${name}-rt`, { vpcId: this.vpc.id, tags: tagged("rt") }, parent);
    this.defaultRoute = new aws.ec2.Route(
      `${name}-default-route`,
      {
        routeTableId: this.routeTable.id,
        destinationCidrBlock: "0.0.0.0/0",
        gatewayId: this.internetGateway.id,
      },
      parent,
    );
    this.routeTableAssociation = new aws.ec2.RouteTableAssociation(
      `${name}-rta`,
      {
        subnetId: this.subnet.id,
        routeTableId: this.routeTable.id,
      },
      parent,
    );

    // Rules are separate resources (the provider's recommended form); the group has none inline.
    // They come from model/securityGroups.ts, which the lab enforces too.
    const rules = nodeSecurityGroup({ adminCidrs: args.adminCidrs, clusterCidr: args.clusterCidr });
    this.securityGroup = new aws.ec2.SecurityGroup(
      `${name}-nodes`,
      {
        vpcId: this.vpc.id,
        description: rules.description,
        tags: tagged("nodes"),
      },
      parent,
    );
    const sg = this.securityGroup.id;
    for (const rule of rules.ingress) {
      this.ingressRules.push(
        new aws.vpc.SecurityGroupIngressRule(
          `${name}-in-${rule.name}`,
          { ...awsRule(rule, sg), securityGroupId: sg, tags: tagged(`in-${rule.name}`) },
          parent,
        ),
      );
    }
    // The provider removes a new group's default allow-all egress: the model's egress rule replaces it.
    for (const rule of rules.egress) {
      this.egressRules.push(
        new aws.vpc.SecurityGroupEgressRule(
          `${name}-out-${rule.name}`,
          { ...awsRule(rule, sg), securityGroupId: sg, tags: tagged(`out-${rule.name}`) },
          parent,
        ),
      );
    }

    this.registerOutputs({
      vpcId: this.vpc.id,
      subnetId: this.subnet.id,
      routeTableId: this.routeTable.id,
      securityGroupId: sg,
    });
  }
}

/** One rule of the model as the provider's rule arguments; `self` is the group itself. */
function awsRule(
  rule: SgRule,
  sg: pulumi.Input<string>,
): Omit<aws.vpc.SecurityGroupIngressRuleArgs, "securityGroupId"> {
  const peer = "self" in rule.peer ? { referencedSecurityGroupId: sg } : { cidrIpv4: rule.peer.cidr };
  const ports = rule.fromPort === undefined ? {} : { fromPort: rule.fromPort, toPort: rule.toPort ?? rule.fromPort };
  return { description: rule.description, ipProtocol: awsProtocol(rule.protocol), ...ports, ...peer };
}
