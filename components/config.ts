// The stack's settings: one typed object read once from `pulumi config` (namespace
// `podnet:`), with the defaults Pulumi.yaml declares, validated before any resource is
// registered so that a missing or contradictory setting fails `pulumi preview` with a
// message naming the key and the `pulumi config set` command that fixes it.
import * as pulumi from "@pulumi/pulumi";
import { type Cidr, cidrContains, cidrsOverlap, formatCidr, parseCidr, subnetCount, tryParseCidr } from "../cni/ipv4";
import { type ClusterPlanInput, NODE_MASK_SIZE_RANGE, planProblems } from "../cni/plan";
import { NETWORK_DEFAULTS } from "../model/defaults";
import { parseAdminCidrs } from "./adminCidrs";
import { type RegionSources, regionProblems, resolveRegion, unknownKeyProblems } from "./configKeys";
import { DEFAULT_IMAGE_ARCH, DEFAULT_KUBERNETES_MINOR, type ImageArch, KUBERNETES_MINORS } from "./image";

export const CONFIG_NAMESPACE = "podnet";

/** podnet:verify: fail (a failed check fails the update), report (keep the cluster, only report), off. */
export type VerifyMode = "fail" | "report" | "off";
export const VERIFY_MODES: readonly VerifyMode[] = ["fail", "report", "off"];

export interface ClusterConfig {
  /** AWS region every resource is created in: aws:region, else AWS_REGION / AWS_DEFAULT_REGION (components/configKeys.ts). */
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

/**
 * Every key with its default; adminCidrs has none and must be set, and region (an alias of
 * aws:region) has none so that an unset one defers to aws:region. Pulumi.yaml declares the
 * same values.
 */
export const CONFIG_DEFAULTS = {
  availabilityZone: "",
  workerCount: 2,
  controlPlaneInstanceType: "t3.medium",
  workerInstanceType: "t3.small",
  rootVolumeSizeGiB: 30,
  ...NETWORK_DEFAULTS,
  kubernetesVersion: DEFAULT_KUBERNETES_MINOR,
  amiId: "",
  amiOwner: "self",
  imageArch: DEFAULT_IMAGE_ARCH,
  routeTableQuota: 50,
  verify: "fail",
} as const;

export type ConfigKey = keyof typeof CONFIG_DEFAULTS | "adminCidrs" | "region";
/** Every podnet: key the program reads. */
export const CONFIG_KEYS: readonly ConfigKey[] = [
  ...(Object.keys(CONFIG_DEFAULTS) as ConfigKey[]),
  "adminCidrs",
  "region",
];

/** How a setting is read: the raw string `pulumi config get podnet:<key>` would print, or undefined. */
export type ConfigSource = (key: ConfigKey) => string | undefined;

/** What the stack holds besides its podnet: values. */
export interface ConfigContext {
  /** Every podnet: key the stack sets, without the namespace; keys nothing reads are refused. */
  readonly setKeys?: readonly string[];
  /** aws:region of the stack. */
  readonly awsRegion?: string;
  /** The environment the AWS provider reads (AWS_REGION, AWS_DEFAULT_REGION). */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** A setting that cannot be used, with the command that fixes it. */
export interface ConfigProblem {
  /** A podnet: key without its namespace (workerCount), or another namespace's key in full (aws:region). */
  readonly key: string;
  readonly message: string;
  /** Commands that fix it; alternatives are separated by "   or   ". */
  readonly fix: string;
}

/** The key as the user types it: podnet:workerCount, aws:region. */
export function qualifiedKey(key: string): string {
  return key.includes(":") ? key : `${CONFIG_NAMESPACE}:${key}`;
}

export class ConfigError extends Error {
  constructor(readonly problems: readonly ConfigProblem[]) {
    super(
      [
        `podnet: ${problems.length} configuration problem${problems.length === 1 ? "" : "s"}:`,
        ...problems.map((p) => `  - ${qualifiedKey(p.key)}: ${p.message}\n    fix: ${p.fix}`),
      ].join("\n"),
    );
    this.name = "ConfigError";
  }
}

/** The `pulumi config set` command for a key and an example value. */
export function setCommand(key: ConfigKey, value: string | number): string {
  return `pulumi config set ${CONFIG_NAMESPACE}:${key} ${value}`;
}

const INSTANCE_TYPE = /^[a-z][a-z0-9-]*\.[a-z0-9]+$/;
const AMI_ID = /^ami-[0-9a-f]{8}([0-9a-f]{9})?$/;
const KUBERNETES_MINOR = /^1\.(\d+)$/;
const ACCOUNT_ID = /^\d{12}$/;

type Report = (key: string, message: string, fix: string) => void;

/** Reads the raw strings, numbers and CIDRs of the podnet: keys, reporting the unreadable ones. */
function reader(source: ConfigSource, problem: Report) {
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
  const cidr = (key: keyof typeof CONFIG_DEFAULTS, fix: () => string): Cidr | undefined => {
    const parsed = tryParseCidr(text(key));
    if (!parsed.ok) {
      problem(key, parsed.reason, setCommand(key, fix()));
      return undefined;
    }
    return parsed.cidr;
  };
  return { text, integer, cidr };
}
type Reader = ReturnType<typeof reader>;

/**
 * Reads and checks every setting. Throws one ConfigError listing all problems, each naming
 * its key and the command that fixes it (a fix that passes these checks itself), so a user
 * fixes everything in one round.
 */
export function parseConfig(source: ConfigSource, context: ConfigContext = {}): ClusterConfig {
  const problems: ConfigProblem[] = [];
  const problem: Report = (key, message, fix) => problems.push({ key, message, fix });
  const read = reader(source, problem);

  problems.push(...unknownKeyProblems(CONFIG_NAMESPACE, context.setKeys ?? [], CONFIG_KEYS));
  const regionSources: RegionSources = {
    awsRegion: context.awsRegion,
    podnetRegion: source("region"),
    env: context.env,
  };
  const { region } = resolveRegion(regionSources);
  problems.push(...regionProblems(regionSources));

  const availabilityZone = read.text("availabilityZone");
  if (availabilityZone !== "" && !availabilityZone.startsWith(region)) {
    problem(
      "availabilityZone",
      `"${availabilityZone}" is not a zone of region ${region}; leave it empty to pick the first zone offering the instance types`,
      `${setCommand("availabilityZone", `${region}a`)}   or   pulumi config rm ${CONFIG_NAMESPACE}:availabilityZone`,
    );
  }

  const workerCount = read.integer("workerCount", 0, 1000, 2);
  const controlPlaneInstanceType = read.text("controlPlaneInstanceType");
  const workerInstanceType = read.text("workerInstanceType");
  for (const [key, value, example] of [
    ["controlPlaneInstanceType", controlPlaneInstanceType, "t3.medium"],
    ["workerInstanceType", workerInstanceType, "t3.small"],
  ] as const) {
    if (!INSTANCE_TYPE.test(value))
      problem(key, `"${value}" is not an EC2 instance type like ${example}`, setCommand(key, example));
  }
  const rootVolumeSizeGiB = read.integer("rootVolumeSizeGiB", 20, 16384, 30);
  const nodeMaskSize = read.integer("nodeMaskSize", NODE_MASK_SIZE_RANGE.min, NODE_MASK_SIZE_RANGE.max, 24);
  const routeTableQuota = read.integer("routeTableQuota", 2, 1000, 50);
  checkNetwork(read, problem, problems, { workerCount, nodeMaskSize, routeTableQuota });

  const kubernetesVersion = read.text("kubernetesVersion");
  checkKubernetesVersion(kubernetesVersion, problem);
  const image = checkImage(read, problem);
  const adminCidrs = parseAdminCidrs(source("adminCidrs"), (message, fix) => problem("adminCidrs", message, fix));
  const verify = read.text("verify");
  if (!(VERIFY_MODES as readonly string[]).includes(verify)) {
    problem(
      "verify",
      `"${verify}" must be fail (a failed connectivity check fails pulumi up), report (only report it) or off`,
      setCommand("verify", "report"),
    );
  }

  if (problems.length > 0) throw new ConfigError(problems);
  return {
    region,
    availabilityZone: availabilityZone === "" ? undefined : availabilityZone,
    workerCount,
    controlPlaneInstanceType,
    workerInstanceType,
    rootVolumeSizeGiB,
    vpcCidr: read.text("vpcCidr"),
    subnetCidr: read.text("subnetCidr"),
    clusterCidr: read.text("clusterCidr"),
    nodeMaskSize,
    serviceCidr: read.text("serviceCidr"),
    kubernetesVersion,
    ...image,
    adminCidrs,
    routeTableQuota,
    verify: verify as VerifyMode,
  };
}

// Where a fix moves an overlapping network: the first of these clear of the others. The
// lists share no addresses, so fixes applied one after another never collide.
const VPC_CANDIDATES = [NETWORK_DEFAULTS.vpcCidr, "10.1.0.0/16", "192.168.0.0/16"];
const CLUSTER_CANDIDATES = [NETWORK_DEFAULTS.clusterCidr, "10.245.0.0/16", "100.64.0.0/16"];
const SERVICE_CANDIDATES = [NETWORK_DEFAULTS.serviceCidr, "172.16.0.0/12", "100.80.0.0/12"];

/** The first candidate that overlaps none of the given networks (the first one if all do). */
function clearOf(candidates: readonly string[], avoid: ReadonlyArray<Cidr | undefined>): Cidr {
  const parsed = candidates.map(parseCidr);
  return parsed.find((c) => avoid.every((a) => !a || !cidrsOverlap(a, c))) ?? parsed[0];
}

/** The VPC's first /24, or the larger subnet the nodes need (AWS keeps five addresses of each). */
function subnetFor(vpc: Cidr, nodes: number): Cidr {
  let prefix = 24;
  while (prefix > 16 && 2 ** (32 - prefix) - 5 < nodes) prefix--;
  return { network: vpc.network, prefix: Math.max(vpc.prefix, prefix) };
}

/** The longest node mask that gives every node its own subnet of the cluster CIDR, if any. */
function maskFor(cluster: Cidr, nodes: number): number | undefined {
  const mask = cluster.prefix + Math.ceil(Math.log2(Math.max(nodes, 1)));
  return mask <= NODE_MASK_SIZE_RANGE.max ? Math.max(mask, NODE_MASK_SIZE_RANGE.min) : undefined;
}

interface Sizes {
  readonly workerCount: number;
  readonly nodeMaskSize: number;
  readonly routeTableQuota: number;
}

/** The VPC, subnet, pod and service networks: sizes, containment, overlaps, the node plan, the route quota. */
function checkNetwork(read: Reader, problem: Report, problems: readonly ConfigProblem[], sizes: Sizes): void {
  const { workerCount, routeTableQuota } = sizes;
  const nodes = workerCount + 1;
  const vpc = read.cidr("vpcCidr", () => CONFIG_DEFAULTS.vpcCidr);
  const subnetFix = () => formatCidr(subnetFor(vpc ?? parseCidr(CONFIG_DEFAULTS.vpcCidr), nodes));
  const subnet = read.cidr("subnetCidr", subnetFix);
  const cluster = read.cidr("clusterCidr", () => formatCidr(clearOf(CLUSTER_CANDIDATES, [vpc])));
  const service = read.cidr("serviceCidr", () => formatCidr(clearOf(SERVICE_CANDIDATES, [vpc, cluster])));
  if (vpc && (vpc.prefix < 16 || vpc.prefix > 28)) {
    const moved = clearOf(VPC_CANDIDATES, [cluster, service]);
    const keepSubnet =
      subnet && cidrContains(moved, subnet)
        ? ""
        : ` && ${setCommand("subnetCidr", formatCidr(subnetFor(moved, nodes)))}`;
    problem(
      "vpcCidr",
      `${formatCidr(vpc)}: AWS VPCs are /16 to /28`,
      `${setCommand("vpcCidr", formatCidr(moved))}${keepSubnet}`,
    );
  }
  if (vpc && subnet && !cidrContains(vpc, subnet)) {
    problem(
      "subnetCidr",
      `${formatCidr(subnet)} is not inside vpcCidr ${formatCidr(vpc)}`,
      setCommand("subnetCidr", subnetFix()),
    );
  }
  if (subnet && (subnet.prefix < 16 || subnet.prefix > 28)) {
    problem("subnetCidr", `${formatCidr(subnet)}: AWS subnets are /16 to /28`, setCommand("subnetCidr", subnetFix()));
  } else if (subnet && subnetCount(subnet, 32) - 5 < nodes) {
    problem(
      "subnetCidr",
      `${formatCidr(subnet)} has ${subnetCount(subnet, 32) - 5} usable addresses for ${nodes} nodes`,
      setCommand("subnetCidr", subnetFix()),
    );
  }
  if (cluster && vpc && cidrsOverlap(cluster, vpc)) {
    const fix = formatCidr(clearOf(CLUSTER_CANDIDATES, [vpc, service]));
    problem(
      "clusterCidr",
      `${formatCidr(cluster)} overlaps vpcCidr ${formatCidr(vpc)}: pod routes would shadow node addresses`,
      setCommand("clusterCidr", fix),
    );
  }
  checkServiceCidr(problem, vpc, cluster, service);
  if (cluster && problems.every((p) => p.key !== "nodeMaskSize" && p.key !== "workerCount"))
    checkPlan(problem, read.text("clusterCidr"), cluster, sizes);

  // One pod route per node, plus the default route to the internet gateway.
  const routesNeeded = nodes + 1;
  if (problems.every((p) => p.key !== "workerCount" && p.key !== "routeTableQuota") && routesNeeded > routeTableQuota) {
    problem(
      "workerCount",
      `${nodes} nodes need ${nodes} pod routes plus the default route (${routesNeeded}) but routeTableQuota is ${routeTableQuota}; ` +
        `raise the quota in AWS Service Quotas ("Routes per route table") first, then record it`,
      `${setCommand("workerCount", Math.max(0, routeTableQuota - 2))}   or, after the quota increase,   ${setCommand("routeTableQuota", routesNeeded)}`,
    );
  }
}

/**
 * The Service network: distinct from the VPC and the pods, at most a /12 (the API server's
 * limit) and at least a /28 (kubeadm gives CoreDNS the tenth address).
 */
function checkServiceCidr(
  problem: Report,
  vpc: Cidr | undefined,
  cluster: Cidr | undefined,
  service: Cidr | undefined,
): void {
  if (!service) return;
  const fix = setCommand("serviceCidr", formatCidr(clearOf(SERVICE_CANDIDATES, [vpc, cluster])));
  if (service.prefix < 12 || service.prefix > 28) {
    problem("serviceCidr", `${formatCidr(service)}: the API server takes a /12 to /28 Service network`, fix);
  }
  if (vpc && cidrsOverlap(service, vpc)) {
    problem("serviceCidr", `${formatCidr(service)} overlaps vpcCidr ${formatCidr(vpc)}`, fix);
  }
  if (cluster && cidrsOverlap(service, cluster)) {
    problem(
      "serviceCidr",
      `${formatCidr(service)} overlaps clusterCidr ${formatCidr(cluster)}: service and pod addresses must be distinct`,
      fix,
    );
  }
}

/** The plan is the one source of truth for node CIDRs; its problems name plan fields, which are config keys here. */
function checkPlan(problem: Report, clusterText: string, cluster: Cidr, sizes: Sizes): void {
  const { workerCount, nodeMaskSize } = sizes;
  const nodes = workerCount + 1;
  for (const message of planProblems({ clusterCidr: clusterText, nodeMaskSize, workerCount })) {
    const field = message.slice(0, message.indexOf(":"));
    const key: ConfigKey = field === "clusterCidr" || field === "nodeMaskSize" ? field : "workerCount";
    const capacity = subnetCount(cluster, nodeMaskSize);
    const mask = maskFor(cluster, nodes);
    const alternatives: string[] = [];
    if (key === "workerCount" && capacity > 0) alternatives.push(setCommand("workerCount", Math.max(0, capacity - 1)));
    if (key !== "clusterCidr" && mask !== undefined) alternatives.push(setCommand("nodeMaskSize", mask));
    if (alternatives.length === 0) alternatives.push(setCommand(key, String(CONFIG_DEFAULTS[key])));
    problem(key, message.slice(message.indexOf(":") + 1).trim(), alternatives.join("   or   "));
  }
}

function checkKubernetesVersion(kubernetesVersion: string, problem: Report): void {
  const { lowest, highest } = KUBERNETES_MINORS;
  const range = `1.${lowest} to 1.${highest}`;
  const minor = KUBERNETES_MINOR.exec(kubernetesVersion);
  if (!minor) {
    problem(
      "kubernetesVersion",
      `"${kubernetesVersion}" must be a Kubernetes minor like ${DEFAULT_KUBERNETES_MINOR} (${range}); the patch release is whatever the image holds`,
      setCommand("kubernetesVersion", DEFAULT_KUBERNETES_MINOR),
    );
  } else if (Number(minor[1]) < lowest || Number(minor[1]) > highest) {
    const nearest = Math.min(highest, Math.max(lowest, Number(minor[1])));
    problem(
      "kubernetesVersion",
      `${kubernetesVersion} is outside the minors the node image and the kubeadm config support, ${range} ` +
        `(the ones containerd's support matrix pairs with the image's containerd 2)`,
      setCommand("kubernetesVersion", `1.${nearest}`),
    );
  }
}

function checkImage(read: Reader, problem: Report): Pick<ClusterConfig, "amiId" | "amiOwner" | "imageArch"> {
  const amiId = read.text("amiId");
  if (amiId !== "" && !AMI_ID.test(amiId)) {
    problem(
      "amiId",
      `"${amiId}" is not an AMI id like ami-0123456789abcdef0; leave it empty to find the image Packer built`,
      `${setCommand("amiId", "ami-0123456789abcdef0")}   or   pulumi config rm ${CONFIG_NAMESPACE}:amiId`,
    );
  }
  const amiOwner = read.text("amiOwner");
  if (amiOwner !== "self" && !ACCOUNT_ID.test(amiOwner)) {
    problem("amiOwner", `"${amiOwner}" must be "self" or a 12-digit AWS account id`, setCommand("amiOwner", "self"));
  }
  const imageArch = read.text("imageArch");
  if (imageArch !== "x86_64" && imageArch !== "arm64") {
    problem("imageArch", `"${imageArch}" must be x86_64 or arm64`, setCommand("imageArch", "x86_64"));
  }
  return { amiId: amiId === "" ? undefined : amiId, amiOwner, imageArch: imageArch as ImageArch };
}

/** Reads the stack configuration (namespace podnet:) once; throws ConfigError on problems. */
export function readConfig(): ClusterConfig {
  const config = new pulumi.Config(CONFIG_NAMESPACE);
  const prefix = `${CONFIG_NAMESPACE}:`;
  const setKeys = Object.keys(pulumi.runtime.allConfig())
    .filter((key) => key.startsWith(prefix))
    .map((key) => key.slice(prefix.length));
  return parseConfig((key) => config.get(key), {
    setKeys,
    awsRegion: new pulumi.Config("aws").get("region"),
    env: process.env,
  });
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
