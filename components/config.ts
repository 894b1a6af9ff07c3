// The stack's settings: one typed object read once from `pulumi config` (namespace
// `podnet:`), with the defaults Pulumi.yaml declares, validated before any resource is
// registered so that a missing or contradictory setting fails `pulumi preview` with a
// message naming the key and the `pulumi config set` command that fixes it.
import * as pulumi from "@pulumi/pulumi";
import { cidrContains, cidrsOverlap, formatCidr, subnetCount, tryParseCidr, type Cidr } from "../cni/ipv4";
import { planProblems, type ClusterPlanInput } from "../cni/plan";
import { DEFAULT_IMAGE_ARCH, DEFAULT_KUBERNETES_MINOR, type ImageArch } from "./image";


export const CONFIG_NAMESPACE = "podnet";

/** podnet:verify: fail (a failed check fails the update), report (keep the cluster, only report), off. */
export type VerifyMode = "fail" | "report" | "off";
export const VERIFY_MODES: readonly VerifyMode[] = ["fail", "report", "off"];

export interface ClusterConfig {
  /** AWS region every resource is created in. */
  readonly region: string;
  /** Availability zone of the subnet; undefined picks the first zone offering both instance types. */
  readonly availabilityZone?: string;
  /** Workers behind the one control plane. */
  readonly workerCount: number;
  readonly controlPlaneInstanceType: string;
  readonly workerInstanceType: string;
  readonly rootVolumeSizeGiB: number;
  readonly vpcCidr: string;
  readonly subnetCidr: string;
  /** The pod network, split into one /nodeMaskSize per node (cni/plan.ts). */
  readonly clusterCidr: string;
  readonly nodeMaskSize: number;
  readonly serviceCidr: string;
  /** Kubernetes minor, e.g. "1.35": picks the image and the kubeadm API version. */
  readonly kubernetesVersion: string;
  /** An explicit AMI; undefined looks the image up by the name Packer gives it (components/image.ts). */
  readonly amiId?: string;
  /** Owner the AMI lookup trusts: "self" (the account that ran Packer) or an account id. */
  readonly amiOwner: string;
  readonly imageArch: ImageArch;
  /** Sources allowed to reach SSH (22) and the API server (6443). */
  readonly adminCidrs: readonly string[];
  /** The VPC route table's route quota: node routes plus the default route must fit. */
  readonly routeTableQuota: number;
  /** The connectivity checks at the end of `pulumi up` (components/verify.ts): fail, report or off. */
  readonly verify: VerifyMode;
}

/** Every key with its default; adminCidrs has none and must be set. Pulumi.yaml declares the same values. */
export const CONFIG_DEFAULTS = {
  region: "us-east-1",
  availabilityZone: "",
  workerCount: 2,
  controlPlaneInstanceType: "t3.medium",
  workerInstanceType: "t3.small",
  rootVolumeSizeGiB: 30,
  vpcCidr: "10.0.0.0/16",
  subnetCidr: "10.0.1.0/24",
  clusterCidr: "10.244.0.0/16",
  nodeMaskSize: 24,
  serviceCidr: "10.96.0.0/12",
  kubernetesVersion: DEFAULT_KUBERNETES_MINOR,
  amiId: "",
  amiOwner: "self",
  imageArch: DEFAULT_IMAGE_ARCH,
  routeTableQuota: 50,
  verify: "fail",
} as const;

export type ConfigKey = keyof typeof CONFIG_DEFAULTS | "adminCidrs";

/** How a setting is read: the raw string `pulumi config get podnet:<key>` would print, or undefined. */
export type ConfigSource = (key: ConfigKey) => string | undefined;

/** A setting that cannot be used, with the command that fixes it. */
export interface ConfigProblem {
  readonly key: ConfigKey;
  readonly message: string;
  readonly fix: string;
}

export class ConfigError extends Error {
  constructor(readonly problems: readonly ConfigProblem[]) {
    super(
      [
        `podnet: ${problems.length} configuration problem${problems.length === 1 ? "" : "s"}:`,
        ...problems.map((p) => `  - ${CONFIG_NAMESPACE}:${p.key}: ${p.message}\n    fix: ${p.fix}`),
      ].join("\n"),
    );
    this.name = "ConfigError";
  }
}

/** The `pulumi config set` command for a key and an example value. */
export function setCommand(key: ConfigKey, value: string | number): string {
  return `pulumi config set ${CONFIG_NAMESPACE}:${key} ${value}`;
}

const ADMIN_CIDR_FIX =
  "pulumi config set --path 'podnet:adminCidrs[0]' 203.0.113.7/32   (your address: curl -s https://checkip.amazonaws.com)";

const INSTANCE_TYPE = /^[a-z][a-z0-9-]*\.[a-z0-9]+$/;
const REGION = /^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d+$/;
const AMI_ID = /^ami-[0-9a-f]{8}([0-9a-f]{9})?$/;
const KUBERNETES_MINOR = /^1\.(\d+)$/;
const ACCOUNT_ID = /^\d{12}$/;

/** Lowest minor the stack deploys: kubeadm v1beta3 configs (1.22) are the oldest it renders. */
export const MIN_KUBERNETES_MINOR = 22;

/**
 * Reads and checks every setting. Throws one ConfigError listing all problems, each naming
 * its key and the command that fixes it, so a user fixes everything in one round.
 */
export function parseConfig(source: ConfigSource): ClusterConfig {
  const problems: ConfigProblem[] = [];
  const problem = (key: ConfigKey, message: string, fix: string) => problems.push({ key, message, fix });

  const text = (key: keyof typeof CONFIG_DEFAULTS): string => {
    const raw = source(key);
    return raw === undefined ? String(CONFIG_DEFAULTS[key]) : raw.trim();
  };
  const integer = (key: keyof typeof CONFIG_DEFAULTS, min: number, max: number, example: number): number => {
    const raw = text(key);
    const value = Number(raw);
    if (!/^-?\d+$/.test(raw) || !Number.isSafeInteger(value) || value < min || value > max) {
      problem(key, `"${raw}" must be a whole number from ${min} to ${max}`, setCommand(key, example));
      return Number(CONFIG_DEFAULTS[key]);
    }
    return value;
  };
  const cidr = (key: keyof typeof CONFIG_DEFAULTS): Cidr | undefined => {
    const raw = text(key);
    const parsed = tryParseCidr(raw);
    if (!parsed.ok) {
      problem(key, parsed.reason, setCommand(key, String(CONFIG_DEFAULTS[key])));
      return undefined;
    }
    return parsed.cidr;
  };

  const region = text("region");
  if (!REGION.test(region)) problem("region", `"${region}" is not an AWS region name like us-east-1`, setCommand("region", "us-east-1"));

  const availabilityZone = text("availabilityZone");
  if (availabilityZone !== "" && !availabilityZone.startsWith(region)) {
    problem(
      "availabilityZone",
      `"${availabilityZone}" is not a zone of region ${region}; leave it empty to pick the first zone offering the instance types`,
      `${setCommand("availabilityZone", `${region}a`)}   or   pulumi config rm ${CONFIG_NAMESPACE}:availabilityZone`,
    );
  }

  const workerCount = integer("workerCount", 0, 1000, 2);
  const controlPlaneInstanceType = text("controlPlaneInstanceType");
  const workerInstanceType = text("workerInstanceType");
  for (const [key, value, example] of [
    ["controlPlaneInstanceType", controlPlaneInstanceType, "t3.medium"],
    ["workerInstanceType", workerInstanceType, "t3.small"],
  ] as const) {
    if (!INSTANCE_TYPE.test(value)) problem(key, `"${value}" is not an EC2 instance type like ${example}`, setCommand(key, example));
  }
  const rootVolumeSizeGiB = integer("rootVolumeSizeGiB", 20, 16384, 30);
  const nodeMaskSize = integer("nodeMaskSize", 16, 28, 24);
  const routeTableQuota = integer("routeTableQuota", 2, 1000, 50);

  const vpc = cidr("vpcCidr");
  const subnet = cidr("subnetCidr");
  const cluster = cidr("clusterCidr");
  const service = cidr("serviceCidr");
  if (vpc && (vpc.prefix < 16 || vpc.prefix > 28)) {
    problem("vpcCidr", `${formatCidr(vpc)}: AWS VPCs are /16 to /28`, setCommand("vpcCidr", "10.0.0.0/16"));
  }
  if (vpc && subnet && !cidrContains(vpc, subnet)) {
    problem("subnetCidr", `${formatCidr(subnet)} is not inside vpcCidr ${formatCidr(vpc)}`, setCommand("subnetCidr", formatCidr({ network: vpc.network, prefix: Math.max(vpc.prefix, 24) })));
  }
  if (subnet && (subnet.prefix < 16 || subnet.prefix > 28)) {
    problem("subnetCidr", `${formatCidr(subnet)}: AWS subnets are /16 to /28`, setCommand("subnetCidr", "10.0.1.0/24"));
  } else if (subnet && subnetCount(subnet, 32) - 5 < workerCount + 1) {
    // AWS keeps five addresses of every subnet.
    problem("subnetCidr", `${formatCidr(subnet)} has ${subnetCount(subnet, 32) - 5} usable addresses for ${workerCount + 1} nodes`, setCommand("subnetCidr", "10.0.0.0/20"));
  }
  const overlapFix = (key: ConfigKey, example: string) => setCommand(key, example);
  if (cluster && vpc && cidrsOverlap(cluster, vpc)) {
    problem("clusterCidr", `${formatCidr(cluster)} overlaps vpcCidr ${formatCidr(vpc)}: pod routes would shadow node addresses`, overlapFix("clusterCidr", "10.244.0.0/16"));
  }
  if (service && vpc && cidrsOverlap(service, vpc)) {
    problem("serviceCidr", `${formatCidr(service)} overlaps vpcCidr ${formatCidr(vpc)}`, overlapFix("serviceCidr", "10.96.0.0/12"));
  }
  if (service && cluster && cidrsOverlap(service, cluster)) {
    problem("serviceCidr", `${formatCidr(service)} overlaps clusterCidr ${formatCidr(cluster)}: service and pod addresses must be distinct`, overlapFix("serviceCidr", "10.96.0.0/12"));
  }

  // The plan is the one source of truth for node CIDRs; its problems name plan fields, which are config keys here.
  const planInput: ClusterPlanInput = { clusterCidr: text("clusterCidr"), nodeMaskSize, workerCount };
  if (cluster && problems.every((p) => p.key !== "nodeMaskSize" && p.key !== "workerCount")) {
    for (const message of planProblems(planInput)) {
      const field = message.slice(0, message.indexOf(":"));
      const key: ConfigKey = field === "clusterCidr" || field === "nodeMaskSize" ? field : "workerCount";
      const capacity = subnetCount(cluster, nodeMaskSize);
      const fix =
        key === "workerCount" && capacity > 0
          ? `${setCommand("workerCount", Math.max(0, capacity - 1))}   or   ${setCommand("nodeMaskSize", Math.min(28, nodeMaskSize + 1))}`
          : setCommand(key, String(CONFIG_DEFAULTS[key]));
      problem(key, message.slice(message.indexOf(":") + 1).trim(), fix);
    }
  }

  // One pod route per node, plus the default route to the internet gateway.
  const routesNeeded = workerCount + 1 + 1;
  if (problems.every((p) => p.key !== "workerCount" && p.key !== "routeTableQuota") && routesNeeded > routeTableQuota) {
    problem(
      "workerCount",
      `${workerCount + 1} nodes need ${workerCount + 1} pod routes plus the default route (${routesNeeded}) but routeTableQuota is ${routeTableQuota}; ` +
        `raise the quota in AWS Service Quotas ("Routes per route table") first, then record it`,
      `${setCommand("workerCount", Math.max(0, routeTableQuota - 2))}   or, after the quota increase,   ${setCommand("routeTableQuota", routesNeeded)}`,
    );
  }

  const kubernetesVersion = text("kubernetesVersion");
  const minor = KUBERNETES_MINOR.exec(kubernetesVersion);
  if (!minor || Number(minor[1]) < MIN_KUBERNETES_MINOR) {
    problem(
      "kubernetesVersion",
      `"${kubernetesVersion}" must be a Kubernetes minor like ${DEFAULT_KUBERNETES_MINOR} (1.${MIN_KUBERNETES_MINOR} or later); the patch release is whatever the image holds`,
      setCommand("kubernetesVersion", DEFAULT_KUBERNETES_MINOR),
    );
  }

  const amiId = text("amiId");
  if (amiId !== "" && !AMI_ID.test(amiId)) {
    problem("amiId", `"${amiId}" is not an AMI id like ami-0123456789abcdef0; leave it empty to find the image Packer built`, `${setCommand("amiId", "ami-0123456789abcdef0")}   or   pulumi config rm ${CONFIG_NAMESPACE}:amiId`);
  }
  const amiOwner = text("amiOwner");
  if (amiOwner !== "self" && !ACCOUNT_ID.test(amiOwner)) {
    problem("amiOwner", `"${amiOwner}" must be "self" or a 12-digit AWS account id`, setCommand("amiOwner", "self"));
  }
  const imageArch = text("imageArch");
  if (imageArch !== "x86_64" && imageArch !== "arm64") {
    problem("imageArch", `"${imageArch}" must be x86_64 or arm64`, setCommand("imageArch", "x86_64"));
  }

  const verify = text("verify");
  if (!(VERIFY_MODES as readonly string[]).includes(verify)) {
    problem("verify", `"${verify}" must be fail (a failed connectivity check fails pulumi up), report (only report it) or off`, setCommand("verify", "report"));
  }

  const adminCidrs = parseAdminCidrs(source("adminCidrs"), problem);

  if (problems.length > 0) throw new ConfigError(problems);
  return {
    region,
    availabilityZone: availabilityZone === "" ? undefined : availabilityZone,
    workerCount,
    controlPlaneInstanceType,
    workerInstanceType,
    rootVolumeSizeGiB,
    vpcCidr: text("vpcCidr"),
    subnetCidr: text("subnetCidr"),
    clusterCidr: text("clusterCidr"),
    nodeMaskSize,
    serviceCidr: text("serviceCidr"),
    kubernetesVersion,
    amiId: amiId === "" ? undefined : amiId,
    amiOwner,
    imageArch: imageArch as ImageArch,
    adminCidrs,
    routeTableQuota,
    verify: verify as VerifyMode,
  };
}

/**
 * adminCidrs is a list (`pulumi config set --path 'podnet:adminCidrs[0]' ...` stores it as
 * JSON); a comma-separated string is accepted too. 0.0.0.0/0 is refused: opening SSH and
 * the API server to the whole internet is exactly what the labs got wrong.
 */
function parseAdminCidrs(raw: string | undefined, problem: (key: ConfigKey, message: string, fix: string) => void): string[] {
  if (raw === undefined || raw.trim() === "" || raw.trim() === "[]") {
    problem("adminCidrs", "is required: the addresses allowed to reach SSH (22) and the API server (6443); there is no default", ADMIN_CIDR_FIX);
    return [];
  }
  let values: unknown;
  const trimmed = raw.trim();
  if (trimmed.startsWith("[")) {
    try {
      values = JSON.parse(trimmed);
    } catch {
      problem("adminCidrs", `${trimmed} is not a list of CIDRs`, ADMIN_CIDR_FIX);
      return [];
    }
  } else {
    values = trimmed.split(",").map((v) => v.trim());
  }
  if (!Array.isArray(values) || values.length === 0) {
    problem("adminCidrs", `${trimmed} is not a list of CIDRs`, ADMIN_CIDR_FIX);
    return [];
  }
  const result: string[] = [];
  values.forEach((value, index) => {
    const parsed = tryParseCidr(typeof value === "string" ? value.trim() : value);
    if (!parsed.ok) {
      problem("adminCidrs", `item ${index}: ${parsed.reason}`, `pulumi config set --path 'podnet:adminCidrs[${index}]' 203.0.113.7/32`);
    } else if (parsed.cidr.prefix === 0) {
      problem(
        "adminCidrs",
        `item ${index}: ${formatCidr(parsed.cidr)} would open SSH and the API server to the whole internet; list the addresses you administer from`,
        `pulumi config set --path 'podnet:adminCidrs[${index}]' 203.0.113.7/32   (your address: curl -s https://checkip.amazonaws.com)`,
      );
    } else {
      result.push(formatCidr(parsed.cidr));
    }
  });
  return result;
}

/** Reads the stack configuration (namespace podnet:) once; throws ConfigError on problems. */
export function readConfig(): ClusterConfig {
  const config = new pulumi.Config(CONFIG_NAMESPACE);
  return parseConfig((key) => config.get(key));
}

/** The plan input the stack, its routes and its conflists share. */
export function planInputOf(config: ClusterConfig): ClusterPlanInput {
  return { clusterCidr: config.clusterCidr, nodeMaskSize: config.nodeMaskSize, workerCount: config.workerCount };
}

/** The Kubernetes minor as a number: "1.35" -> 35. */
export function kubernetesMinorOf(config: Pick<ClusterConfig, "kubernetesVersion">): number {
  const match = KUBERNETES_MINOR.exec(config.kubernetesVersion);
  if (!match) throw new Error(`kubernetesVersion ${config.kubernetesVersion} is not a minor like 1.35`);
  return Number(match[1]);
}
