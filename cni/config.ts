// Parsing and validation of what the runtime hands the plugin: the CNI_* environment and
// the network configuration on stdin. Every refusal names the field and the fix.
import { isAbsolute } from "node:path";
import { CniError, ErrorCode } from "./errors";
import { Cidr, cidrContains, cidrSize, formatCidr, tryParseCidr } from "./ipv4";
import {
  DEFAULT_BRIDGE,
  DEFAULT_DATA_DIR,
  DEFAULT_LOG_FILE,
  DEFAULT_MTU,
  PodnetPluginConf,
} from "./conflist";
import { CniVersion, LATEST_VERSION, SUPPORTED_VERSIONS, compareVersions, isSupportedVersion } from "./version";

export const VERBS = ["ADD", "DEL", "CHECK", "VERSION", "GC", "STATUS"] as const;
export type Verb = (typeof VERBS)[number];

export interface Environment {
  command: Verb;
  containerId: string;
  netns: string;
  ifname: string;
  /** K8S_POD_NAMESPACE/K8S_POD_NAME from CNI_ARGS, for the log. */
  pod: string;
}

export interface Attachment {
  containerId: string;
  ifname: string;
}

/** The validated config: the fields renderConflist writes, with the CIDRs parsed. */
export interface NetConf extends Pick<PodnetPluginConf, "bridge" | "mtu" | "hairpin" | "ipMasq" | "dataDir" | "logFile"> {
  cniVersion: CniVersion;
  name: string;
  subnet: Cidr;
  clusterCidr: Cidr;
  /** The raw prevResult (CHECK, DEL, chained plugins), converted later. */
  prevResult?: unknown;
  /** GC: the attachments the runtime still knows. */
  validAttachments?: Attachment[];
}

const CONTAINER_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const NETWORK_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
/** What runtimes use (/var/run/netns/cni-<uuid>, /proc/<pid>/ns/net); nothing a shell or ip -batch would split. */
const NETNS_PATH = /^\/[A-Za-z0-9_.\/@:+-]+$/;
const FIELD_SPELLINGS: Record<string, string> = {
  clustercidr: "clusterCidr",
  cluster_cidr: "clusterCidr",
  ipmasq: "ipMasq",
  ip_masq: "ipMasq",
  datadir: "dataDir",
  data_dir: "dataDir",
  logfile: "logFile",
  log_file: "logFile",
  hairpinmode: "hairpin",
};

function invalid(field: string, problem: string, fix: string): CniError {
  return new CniError(ErrorCode.InvalidConfig, `invalid network config: "${field}" ${problem}`, fix);
}

/** Linux interface names: 1-15 bytes, no '/', ':' or whitespace, not "." or "..". */
export function interfaceNameProblem(name: string): string | undefined {
  if (name.length === 0) return "is empty";
  if (Buffer.byteLength(name) > 15) return `"${name}" is longer than 15 characters`;
  if (name === "." || name === "..") return `"${name}" is not a valid interface name`;
  if (/[/:\s]/.test(name)) return `"${name}" contains '/', ':' or white space`;
  return undefined;
}

export function parseEnvironment(env: NodeJS.ProcessEnv): Environment {
  const command = env.CNI_COMMAND;
  if (!command) {
    throw new CniError(ErrorCode.InvalidEnvironment, "CNI_COMMAND is not set", `set CNI_COMMAND to one of ${VERBS.join(", ")}`);
  }
  if (!(VERBS as readonly string[]).includes(command)) {
    throw new CniError(ErrorCode.InvalidEnvironment, `CNI_COMMAND "${command}" is not a CNI verb`, `use one of ${VERBS.join(", ")}`);
  }
  const verb = command as Verb;
  const needsContainer = verb === "ADD" || verb === "DEL" || verb === "CHECK";
  const containerId = env.CNI_CONTAINERID ?? "";
  const ifname = env.CNI_IFNAME ?? "";
  const netns = env.CNI_NETNS ?? "";
  if (needsContainer) {
    if (!containerId) throw new CniError(ErrorCode.InvalidEnvironment, `CNI_CONTAINERID is required for ${verb}`);
    if (!CONTAINER_ID.test(containerId)) {
      throw new CniError(
        ErrorCode.InvalidEnvironment,
        `CNI_CONTAINERID "${containerId}" is not valid`,
        "a container id holds only letters, digits, '_', '.' and '-', starting with a letter or digit",
      );
    }
    if (!ifname) throw new CniError(ErrorCode.InvalidEnvironment, `CNI_IFNAME is required for ${verb}`);
    const ifProblem = interfaceNameProblem(ifname);
    if (ifProblem) throw new CniError(ErrorCode.InvalidEnvironment, `CNI_IFNAME ${ifProblem}`);
    if (verb !== "DEL" && !netns) {
      throw new CniError(ErrorCode.InvalidEnvironment, `CNI_NETNS is required for ${verb}`, "set it to the container's network namespace path");
    }
    if (netns && !isAbsolute(netns)) {
      throw new CniError(ErrorCode.InvalidEnvironment, `CNI_NETNS "${netns}" is not an absolute path`);
    }
    if (netns && !NETNS_PATH.test(netns)) {
      throw new CniError(
        ErrorCode.InvalidEnvironment,
        `CNI_NETNS "${netns}" has characters podnet does not accept`,
        "a namespace path holds only letters, digits and . _ - / @ : +",
      );
    }
  }
  return { command: verb, containerId, ifname, netns, pod: podFromArgs(env.CNI_ARGS ?? "") };
}

function podFromArgs(args: string): string {
  const pairs = new Map(
    args
      .split(";")
      .map((kv) => kv.split("="))
      .filter((kv) => kv.length === 2)
      .map(([k, v]) => [k, v] as const),
  );
  const name = pairs.get("K8S_POD_NAME");
  const namespace = pairs.get("K8S_POD_NAMESPACE");
  return name ? (namespace ? `${namespace}/${name}` : name) : "";
}

/** Decodes stdin; malformed JSON is code 6. */
export function decodeJson(stdin: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(stdin);
  } catch (e) {
    throw new CniError(ErrorCode.DecodeFailure, `network config on stdin is not valid JSON: ${(e as Error).message}`);
  }
  if (!value || typeof value !== "object" || Array.isArray(value)) {
    throw new CniError(ErrorCode.DecodeFailure, "network config on stdin must be a JSON object");
  }
  return value as Record<string, unknown>;
}

/**
 * The version the runtime wants: cniVersion, or when a runtime passes a list-style
 * config with only cniVersions, the newest entry podnet supports.
 */
export function requestedVersion(raw: Record<string, unknown>): CniVersion {
  const v = raw.cniVersion;
  if (v === undefined && Array.isArray(raw.cniVersions)) {
    const usable = raw.cniVersions.filter(isSupportedVersion).sort(compareVersions);
    if (usable.length === 0) {
      throw new CniError(
        ErrorCode.IncompatibleVersion,
        `none of cniVersions ${JSON.stringify(raw.cniVersions)} is supported`,
        `podnet supports ${SUPPORTED_VERSIONS.join(", ")}`,
      );
    }
    return usable[usable.length - 1];
  }
  if (v === undefined) {
    throw new CniError(ErrorCode.IncompatibleVersion, `"cniVersion" is missing`, `set it to one of ${SUPPORTED_VERSIONS.join(", ")}`);
  }
  if (!isSupportedVersion(v)) {
    throw new CniError(
      ErrorCode.IncompatibleVersion,
      `cniVersion ${JSON.stringify(v)} is not supported`,
      `podnet supports ${SUPPORTED_VERSIONS.join(", ")}`,
    );
  }
  return v;
}

/** The version to answer in (VERSION, errors): the config's when it is usable, else the latest. */
export function replyVersion(stdin: string): string {
  try {
    const raw = JSON.parse(stdin) as Record<string, unknown>;
    return isSupportedVersion(raw?.cniVersion) ? raw.cniVersion : LATEST_VERSION;
  } catch {
    return LATEST_VERSION;
  }
}

function cidrField(raw: Record<string, unknown>, field: string, example: string): Cidr {
  if (raw[field] === undefined) throw invalid(field, "is required", `set it to a CIDR such as ${example}`);
  const parsed = tryParseCidr(raw[field]);
  if (!parsed.ok) throw invalid(field, parsed.reason, `set it to a CIDR such as ${example}`);
  return parsed.cidr;
}

function booleanField(raw: Record<string, unknown>, field: string, fallback: boolean): boolean {
  const v = raw[field];
  if (v === undefined) return fallback;
  if (typeof v !== "boolean") throw invalid(field, `must be true or false, not ${JSON.stringify(v)}`, `write "${field}": ${fallback}`);
  return v;
}

function pathField(raw: Record<string, unknown>, field: string, fallback: string, allowEmpty: boolean): string {
  const v = raw[field];
  if (v === undefined) return fallback;
  if (typeof v !== "string" || (!isAbsolute(v) && !(allowEmpty && v === ""))) {
    throw invalid(field, `must be an absolute path${allowEmpty ? ' or ""' : ""}, not ${JSON.stringify(v)}`, `e.g. "${field}": "${fallback}"`);
  }
  return v;
}

/** Validates the plugin's network config (the podnet entry of a conflist, as the runtime passes it). */
export function parseNetConf(raw: Record<string, unknown>): NetConf {
  const cniVersion = requestedVersion(raw);
  for (const key of Object.keys(raw)) {
    const right = FIELD_SPELLINGS[key.toLowerCase()];
    if (right && right !== key) throw invalid(key, "is not a podnet field", `did you mean "${right}"?`);
  }
  const name = raw.name;
  if (typeof name !== "string" || !NETWORK_NAME.test(name)) {
    throw invalid("name", `must be a network name of letters, digits, '_', '.' and '-', not ${JSON.stringify(name)}`, `e.g. "name": "podnet"`);
  }
  if (raw.clusterCidr === undefined && raw.network !== undefined) {
    throw invalid("network", "is the labs' name for the cluster CIDR", 'rename it to "clusterCidr"');
  }
  const subnet = cidrField(raw, "subnet", "10.244.1.0/24");
  if (subnet.prefix > 30) {
    throw invalid("subnet", `${formatCidr(subnet)} leaves no address for pods beside the gateway`, "use a prefix of /30 or shorter, normally /24");
  }
  if (subnet.prefix < 8) throw invalid("subnet", `${formatCidr(subnet)} is larger than /8`, "give each node its own /24");
  const clusterCidr = cidrField(raw, "clusterCidr", "10.244.0.0/16");
  if (!cidrContains(clusterCidr, subnet)) {
    throw invalid(
      "subnet",
      `${formatCidr(subnet)} is outside clusterCidr ${formatCidr(clusterCidr)}`,
      "the node's subnet must be one of the cluster CIDR's node subnets",
    );
  }
  const bridge = raw.bridge ?? DEFAULT_BRIDGE;
  if (typeof bridge !== "string") throw invalid("bridge", "must be an interface name", `e.g. "bridge": "${DEFAULT_BRIDGE}"`);
  const bridgeProblem = interfaceNameProblem(bridge);
  if (bridgeProblem) throw invalid("bridge", bridgeProblem, `e.g. "bridge": "${DEFAULT_BRIDGE}"`);
  const mtu = raw.mtu ?? DEFAULT_MTU;
  if (typeof mtu !== "number" || !Number.isInteger(mtu) || mtu < 576 || mtu > 9216) {
    throw invalid("mtu", `must be a whole number from 576 to 9216, not ${JSON.stringify(mtu)}`, `e.g. "mtu": ${DEFAULT_MTU}`);
  }
  const conf: NetConf = {
    cniVersion,
    name,
    subnet,
    clusterCidr,
    bridge,
    mtu,
    hairpin: booleanField(raw, "hairpin", true),
    ipMasq: booleanField(raw, "ipMasq", true),
    dataDir: pathField(raw, "dataDir", DEFAULT_DATA_DIR, false),
    logFile: pathField(raw, "logFile", DEFAULT_LOG_FILE, true),
  };
  if (raw.prevResult !== undefined) conf.prevResult = raw.prevResult;
  if (raw["cni.dev/valid-attachments"] !== undefined) conf.validAttachments = parseAttachments(raw["cni.dev/valid-attachments"]);
  return conf;
}

function parseAttachments(value: unknown): Attachment[] {
  const field = "cni.dev/valid-attachments";
  if (!Array.isArray(value)) throw invalid(field, "must be a list of {containerID, ifname}", "this is set by the runtime for GC");
  return value.map((a, i) => {
    const entry = a as Record<string, unknown>;
    if (!entry || typeof entry.containerID !== "string" || typeof entry.ifname !== "string") {
      throw invalid(`${field}[${i}]`, "must have string containerID and ifname", "this is set by the runtime for GC");
    }
    return { containerId: entry.containerID, ifname: entry.ifname };
  });
}

/** Addresses a subnet offers to pods: all but network, gateway (.1) and broadcast. */
export function podAddressCount(subnet: Cidr): number {
  return cidrSize(subnet) - 3;
}
