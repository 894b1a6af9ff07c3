// The AWS API calls behind each resource type and invoke the stack registers, as IAM
// actions: what the AWS provider (terraform-provider-aws underneath @pulumi/aws) calls to
// create, read, update and delete each one. iam/pulumi-up.json and iam/pulumi-preview.json
// grant exactly these (test/iam.test.ts derives the types from the stack under mocks).

/** Calls for one resource type: reads (refresh, waiters) and writes (create, update, delete). */
export interface ResourceActions {
  readonly read: readonly string[];
  readonly write: readonly string[];
}

// Tags come with every create (the provider's defaultTags) and change on update.
const TAGS = ["ec2:CreateTags", "ec2:DeleteTags"];

export const RESOURCE_ACTIONS: Readonly<Record<string, ResourceActions>> = {
  "aws:ec2/vpc:Vpc": {
    // Read also reports the VPC's main route table, default network ACL and default security group.
    read: [
      "ec2:DescribeVpcs",
      "ec2:DescribeVpcAttribute",
      "ec2:DescribeRouteTables",
      "ec2:DescribeNetworkAcls",
      "ec2:DescribeSecurityGroups",
    ],
    write: ["ec2:CreateVpc", "ec2:ModifyVpcAttribute", "ec2:DeleteVpc", ...TAGS],
  },
  "aws:ec2/internetGateway:InternetGateway": {
    read: ["ec2:DescribeInternetGateways"],
    write: [
      "ec2:CreateInternetGateway",
      "ec2:AttachInternetGateway",
      "ec2:DetachInternetGateway",
      "ec2:DeleteInternetGateway",
      ...TAGS,
    ],
  },
  "aws:ec2/subnet:Subnet": {
    // Delete first looks for network interfaces left in the subnet.
    read: ["ec2:DescribeSubnets", "ec2:DescribeNetworkInterfaces"],
    write: ["ec2:CreateSubnet", "ec2:ModifySubnetAttribute", "ec2:DeleteSubnet", ...TAGS],
  },
  "aws:ec2/routeTable:RouteTable": {
    read: ["ec2:DescribeRouteTables"],
    write: ["ec2:CreateRouteTable", "ec2:DeleteRouteTable", ...TAGS],
  },
  "aws:ec2/route:Route": {
    read: ["ec2:DescribeRouteTables"],
    write: ["ec2:CreateRoute", "ec2:ReplaceRoute", "ec2:DeleteRoute"],
  },
  "aws:ec2/routeTableAssociation:RouteTableAssociation": {
    read: ["ec2:DescribeRouteTables"],
    write: ["ec2:AssociateRouteTable", "ec2:ReplaceRouteTableAssociation", "ec2:DisassociateRouteTable"],
  },
  "aws:ec2/securityGroup:SecurityGroup": {
    // Create revokes the group's default allow-all egress; delete waits for interfaces to let go.
    read: ["ec2:DescribeSecurityGroups", "ec2:DescribeNetworkInterfaces"],
    write: ["ec2:CreateSecurityGroup", "ec2:RevokeSecurityGroupEgress", "ec2:DeleteSecurityGroup", ...TAGS],
  },
  "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": {
    read: ["ec2:DescribeSecurityGroupRules"],
    write: [
      "ec2:AuthorizeSecurityGroupIngress",
      "ec2:ModifySecurityGroupRules",
      "ec2:RevokeSecurityGroupIngress",
      ...TAGS,
    ],
  },
  "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": {
    read: ["ec2:DescribeSecurityGroupRules"],
    write: [
      "ec2:AuthorizeSecurityGroupEgress",
      "ec2:ModifySecurityGroupRules",
      "ec2:RevokeSecurityGroupEgress",
      ...TAGS,
    ],
  },
  "aws:ec2/keyPair:KeyPair": {
    read: ["ec2:DescribeKeyPairs"],
    write: ["ec2:ImportKeyPair", "ec2:DeleteKeyPair", ...TAGS],
  },
  "aws:ec2/instance:Instance": {
    // Create reads the AMI's root device name. Read (also after every create and update)
    // covers the instance type (burstable or not, then its credit settings), attributes (user
    // data, stop and termination protection, shutdown behaviour), launch-template tags, the
    // VPC (default or not) and the root volume. Update stops and starts the instance for a new
    // type, moves security groups on the primary interface, and resizes the root volume in place.
    read: [
      "ec2:DescribeInstances",
      "ec2:DescribeInstanceTypes",
      "ec2:DescribeInstanceAttribute",
      "ec2:DescribeInstanceCreditSpecifications",
      "ec2:DescribeTags",
      "ec2:DescribeVpcs",
      "ec2:DescribeVolumes",
      "ec2:DescribeVolumesModifications",
      "ec2:DescribeImages",
    ],
    write: [
      "ec2:RunInstances",
      "ec2:ModifyInstanceAttribute",
      "ec2:ModifyInstanceMetadataOptions",
      "ec2:ModifyNetworkInterfaceAttribute",
      "ec2:StopInstances",
      "ec2:StartInstances",
      "ec2:ModifyVolume",
      "ec2:TerminateInstances",
      ...TAGS,
    ],
  },
  "aws:ec2/eip:Eip": {
    // Read includes the address's reverse DNS record.
    read: ["ec2:DescribeAddresses", "ec2:DescribeAddressesAttribute"],
    write: ["ec2:AllocateAddress", "ec2:AssociateAddress", "ec2:DisassociateAddress", "ec2:ReleaseAddress", ...TAGS],
  },
};

/** Data sources: read-only by nature, and called at preview too. */
export const INVOKE_ACTIONS: Readonly<Record<string, readonly string[]>> = {
  "aws:ec2/getInstanceTypeOfferings:getInstanceTypeOfferings": ["ec2:DescribeInstanceTypeOfferings"],
  "aws:ec2/getInstanceType:getInstanceType": ["ec2:DescribeInstanceTypes"],
  "aws:ec2/getAmiIds:getAmiIds": ["ec2:DescribeImages"],
};

/** The provider checks its credentials when it starts (an action no policy can deny, named to be plain). */
export const PROVIDER_ACTIONS: readonly string[] = ["sts:GetCallerIdentity"];

/** Types that make no AWS call: components, providers, TLS keys, SSH commands, the stack's reference to itself. */
export const NO_AWS_CALLS: readonly RegExp[] = [
  /^podnet:aws:/,
  /^pulumi:providers:/,
  /^pulumi:pulumi:StackReference$/,
  /^tls:/,
  /^command:/,
];

const sorted = (actions: Iterable<string>) => [...new Set(actions)].sort();

/** What `pulumi up` and `pulumi destroy` call for these resource types and invokes. */
export function upActions(types: readonly string[], invokes: readonly string[]): string[] {
  return sorted([
    ...PROVIDER_ACTIONS,
    ...types.flatMap((t) => [...(RESOURCE_ACTIONS[t]?.read ?? []), ...(RESOURCE_ACTIONS[t]?.write ?? [])]),
    ...invokes.flatMap((i) => INVOKE_ACTIONS[i] ?? []),
  ]);
}

/** What `pulumi preview` calls (invokes), and `preview --refresh` too (reads): nothing that changes. */
export function previewActions(types: readonly string[], invokes: readonly string[]): string[] {
  return sorted([
    ...PROVIDER_ACTIONS,
    ...types.flatMap((t) => RESOURCE_ACTIONS[t]?.read ?? []),
    ...invokes.flatMap((i) => INVOKE_ACTIONS[i] ?? []),
  ]);
}
