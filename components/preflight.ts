// Checks only the account and the stack's own history can answer, made before anything
// changes: the settings a running cluster cannot change, the instance types' architecture,
// and the node image. Each failure names the setting and the fix, like components/config.ts.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { type ClusterConfig, ConfigError, type ConfigKey, type ConfigProblem, setCommand } from "./config";
import { amiNameFilter, type ImageArch } from "./image";

/**
 * Settings baked into running nodes: node.spec.podCIDR cannot change, kubeadm's podSubnet and
 * serviceSubnet are never re-applied, and the VPC and subnet hold the nodes. Changing one
 * would move routes, conflists and security-group rules under running pods.
 */
export const FIXED_SETTINGS = ["vpcCidr", "subnetCidr", "clusterCidr", "nodeMaskSize", "serviceCidr"] as const;
export type FixedSettings = { readonly [K in (typeof FIXED_SETTINGS)[number]]: ClusterConfig[K] };
/** The stack output that records them, read back on the next run. */
export const FIXED_SETTINGS_OUTPUT = "networkSettings";

export function fixedSettingsOf(config: ClusterConfig): FixedSettings {
  return Object.fromEntries(FIXED_SETTINGS.map((key) => [key, config[key]])) as unknown as FixedSettings;
}

/** The changes to fixed settings since the last update (none on a stack that has no outputs yet). */
export function fixedSettingProblems(
  previous: Partial<Record<string, unknown>> | undefined,
  current: FixedSettings,
): ConfigProblem[] {
  if (!previous || typeof previous !== "object") return [];
  return FIXED_SETTINGS.filter(
    (key) => previous[key] !== undefined && String(previous[key]) !== String(current[key]),
  ).map((key) => ({
    key,
    message:
      `cannot change on a running cluster: this stack was deployed with ${String(previous[key])}, the config now says ${String(current[key])} ` +
      `(nodes' pod CIDRs and kubeadm's networks cannot move under running pods)`,
    fix:
      `${setCommand(key, String(previous[key]))}   or, for a cluster with the new value,   ` +
      `pulumi destroy, then pulumi up   or   pulumi stack init <new-stack> (a second cluster)`,
  }));
}

/**
 * Resolves once the stack's previous outputs (read through a StackReference to itself) agree
 * with the config on every fixed setting; rejects with a ConfigError otherwise. A new stack,
 * or one destroyed, has no outputs and passes.
 */
export function checkFixedSettings(
  name: string,
  settings: FixedSettings,
  parent: pulumi.Resource,
): pulumi.Output<FixedSettings> {
  const self = new pulumi.StackReference(
    `${name}-previous-settings`,
    {
      name: `${pulumi.getOrganization()}/${pulumi.getProject()}/${pulumi.getStack()}`,
    },
    { parent },
  );
  return self.getOutput(FIXED_SETTINGS_OUTPUT).apply((previous) => {
    const problems = fixedSettingProblems(previous, settings);
    if (problems.length > 0) throw new ConfigError(problems);
    return settings;
  });
}

/** An instance type of the other architecture, same family kind and size where one exists. */
export function counterpartType(instanceType: string, arch: ImageArch): string {
  const [family, size] = instanceType.split(".");
  const burstable = ["nano", "micro", "small", "medium", "large", "xlarge", "2xlarge"];
  if (family.startsWith("t") || !["m", "c", "r"].includes(family[0])) {
    return `${arch === "arm64" ? "t4g" : "t3"}.${burstable.includes(size) ? size : "medium"}`;
  }
  const fitted = arch === "x86_64" && size === "medium" ? "large" : size;
  return `${family[0]}7${arch === "arm64" ? "g" : "i"}.${fitted}`;
}

/** Instance types (with their architectures) that cannot boot an image of this architecture. */
export function architectureProblems(
  arch: ImageArch,
  types: ReadonlyArray<{ key: ConfigKey; instanceType: string; supportedArchitectures: readonly string[] }>,
): ConfigProblem[] {
  const wrong = types.filter((t) => !t.supportedArchitectures.includes(arch));
  if (wrong.length === 0) return [];
  const retype = wrong.map((t) => setCommand(t.key, counterpartType(t.instanceType, arch))).join(" && ");
  const other: ImageArch = arch === "arm64" ? "x86_64" : "arm64";
  const rearch = types.every((t) => t.supportedArchitectures.includes(other))
    ? `   or   ${setCommand("imageArch", other)}`
    : "";
  return wrong.map((t) => ({
    key: t.key,
    message: `${t.instanceType} runs ${t.supportedArchitectures.join("/")}, not the ${arch} image podnet:imageArch asks for`,
    fix: `${retype}${rearch}`,
  }));
}

/** Resolves once every instance type runs the image's architecture (EC2's DescribeInstanceTypes). */
export function checkArchitecture(config: ClusterConfig, opts: pulumi.InvokeOutputOptions): pulumi.Output<void> {
  const keys: ConfigKey[] = ["controlPlaneInstanceType", "workerInstanceType"];
  const described = keys.map((key) =>
    aws.ec2.getInstanceTypeOutput({ instanceType: config[key] as string }, opts).apply((t) => ({
      key,
      instanceType: config[key] as string,
      supportedArchitectures: t.supportedArchitectures,
    })),
  );
  return pulumi.all(described).apply((types) => {
    const problems = architectureProblems(config.imageArch, types);
    if (problems.length > 0) throw new ConfigError(problems);
  });
}

/** What the node image lookup needs. */
export interface NodeImageQuery {
  readonly amiOwner: string;
  readonly region: string;
  readonly kubernetesVersion: string;
  readonly imageArch: ImageArch;
}

/** Refusal for an account (or region) that has no podnet image yet: build one first. */
export function noImageProblem(query: NodeImageQuery): ConfigProblem {
  const name = amiNameFilter(query.kubernetesVersion, query.imageArch);
  return {
    key: "amiId",
    message:
      `no node image named ${name} (owner ${query.amiOwner}, ${query.imageArch}) in ${query.region}, the stack's region: ` +
      `build it first; Packer registers it in the region it builds in`,
    fix:
      `npm run image -- -var region=${query.region} -var kubernetes_minor=${query.kubernetesVersion} -var arch=${query.imageArch}` +
      `   or   ${setCommand("amiId", "ami-0123456789abcdef0")} (an image you built)`,
  };
}

/**
 * The newest image Packer built for this Kubernetes minor and architecture. A list lookup
 * rather than getAmi, whose "no results" error would say nothing of `npm run image`.
 */
export function lookupNodeImage(query: NodeImageQuery, opts: pulumi.InvokeOutputOptions): pulumi.Output<string> {
  return aws.ec2
    .getAmiIdsOutput(
      {
        owners: [query.amiOwner],
        filters: [
          { name: "name", values: [amiNameFilter(query.kubernetesVersion, query.imageArch)] },
          { name: "architecture", values: [query.imageArch] },
          { name: "state", values: ["available"] },
        ],
      },
      opts,
    )
    .apply((found) => {
      // Newest first: getAmiIds sorts by creation date, descending unless sortAscending.
      const newest = found.ids[0];
      if (!newest) throw new ConfigError([noImageProblem(query)]);
      return newest;
    });
}
