// The VPC the cluster lives in: one public subnet, an internet gateway, the route table
// the pod routes are added to, and the nodes' security group.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { API_SERVER_PORT } from "./kubeadm";

export interface NetworkArgs {
  readonly vpcCidr: string;
  readonly subnetCidr: string;
  readonly clusterCidr: string;
  readonly availabilityZone: pulumi.Input<string>;
  readonly adminCidrs: readonly string[];
  readonly tags: Record<string, string>;
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
    const tagged = (suffix: string) => ({ ...args.tags, Name: `${name}-${suffix}` });

    this.vpc = new aws.ec2.Vpc(`${name}-vpc`, {
      cidrBlock: args.vpcCidr,
      enableDnsSupport: true,
      enableDnsHostnames: true,
      tags: tagged("vpc"),
    }, parent);

    this.internetGateway = new aws.ec2.InternetGateway(`${name}-igw`, { vpcId: this.vpc.id, tags: tagged("igw") }, parent);

    this.subnet = new aws.ec2.Subnet(`${name}-subnet`, {
      vpcId: this.vpc.id,
      cidrBlock: args.subnetCidr,
      availabilityZone: args.availabilityZone,
      mapPublicIpOnLaunch: true,
      tags: tagged("subnet"),
    }, parent);

    // No inline routes: inline routes and aws.ec2.Route resources on one table fight each other.
    this.routeTable = new aws.ec2.RouteTable(`${name}-rt`, { vpcId: this.vpc.id, tags: tagged("rt") }, parent);
    this.defaultRoute = new aws.ec2.Route(`${name}-default-route`, {
      routeTableId: this.routeTable.id,
      destinationCidrBlock: "0.0.0.0/0",
      gatewayId: this.internetGateway.id,
    }, parent);
    this.routeTableAssociation = new aws.ec2.RouteTableAssociation(`${name}-rta`, {
      subnetId: this.subnet.id,
      routeTableId: this.routeTable.id,
    }, parent);

    // Rules are separate resources (the provider's recommended form); the group has none inline.
    this.securityGroup = new aws.ec2.SecurityGroup(`${name}-nodes`, {
      vpcId: this.vpc.id,
      description: "podnet nodes: SSH and API server from admin CIDRs, everything between nodes and from pods",
      tags: tagged("nodes"),
    }, parent);
    const sg = this.securityGroup.id;
    const ingress = (ruleName: string, rule: Omit<aws.vpc.SecurityGroupIngressRuleArgs, "securityGroupId">) => {
      this.ingressRules.push(new aws.vpc.SecurityGroupIngressRule(`${name}-in-${ruleName}`, { ...rule, securityGroupId: sg, tags: tagged(`in-${ruleName}`) }, parent));
    };
    args.adminCidrs.forEach((cidr, i) => {
      ingress(`ssh-admin-${i}`, { description: `SSH from admin ${cidr}`, ipProtocol: "tcp", fromPort: 22, toPort: 22, cidrIpv4: cidr });
      ingress(`api-admin-${i}`, { description: `API server from admin ${cidr}`, ipProtocol: "tcp", fromPort: API_SERVER_PORT, toPort: API_SERVER_PORT, cidrIpv4: cidr });
    });
    ingress("nodes", { description: "all traffic between the nodes", ipProtocol: "-1", referencedSecurityGroupId: sg });
    // Cross-node pod traffic is routed, not masqueraded: it arrives with its pod source address.
    ingress("pods", { description: `all traffic from pods (${args.clusterCidr})`, ipProtocol: "-1", cidrIpv4: args.clusterCidr });
    // The provider removes a new group's default allow-all egress: this rule replaces it.
    this.egressRules.push(new aws.vpc.SecurityGroupEgressRule(`${name}-out-all`, {
      securityGroupId: sg,
      description: "all outbound traffic",
      ipProtocol: "-1",
      cidrIpv4: "0.0.0.0/0",
      tags: tagged("out-all"),
    }, parent));

    this.registerOutputs({ vpcId: this.vpc.id, subnetId: this.subnet.id, routeTableId: this.routeTable.id, securityGroupId: sg });
  }
}
