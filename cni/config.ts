// Parsing and validation of what the runtime hands the plugin: the CNI_* environment and
// the network configuration on stdin. Every refusal names the field and the fix.

import {
  DEFAULT_BRIDGE,
  DEFAULT_DATA_DIR,
  DEFAULT_HAIRPIN,
  DEFAULT_IP_MASQ,
  DEFAULT_LOG_FILE,
  DEFAULT_MTU,
  type PodnetPluginConf,
} from "./conflist";
import { CniError, ErrorCode } from "./errors";
import { type Cidr, cidrContains, cidrSize, formatCidr, tryParseCidr } from "./ipv4";
import { isAbsolute } from "./path";
import { type CniVersion, compareVersions, isSupportedVersion, LATEST_VERSION, SUPPORTED_VERSIONS } from "./version";

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
export interface NetConf
  extends Pick<PodnetPluginConf, "bridge" | "mtu" | "hairpin" | "ipMasq" | "dataDir" | "logFile"> {
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
const NETNS_PATH = /^\/[A-Za-z0-9_./@:+-]+$/;
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

/**
 * Linux interface names as libcni checks them (1-15 bytes, no '/', ':' or whitespace, not
 * "." or ".."), and nothing `ip -batch` would read as quoting, escaping or a comment.
 */
export function interfaceNameProblem(name: string): string | undefined {
  if (name.length === 0) return "is empty";
  if (Buffer.byteLength(name) > 15) return `"${name}" is longer than 15 bytes`;
  if (name === "." || name === "..") return `"${name}" is not a valid interface name`;
  if (/[/:\s]/.test(name)) return `"${name}" contains '/', ':' or white space`;
  if (/["'#\\\x00-\x1f\x7f]/.test(name))
    return `${JSON.stringify(name)} contains a quote, '#', a backslash or a control character, which ip -batch cannot carry`;
  return undefined;
}

const IFNAME_FIX = "an interface name has 1 to 15 letters, digits, '-', '_' or '.', such as eth0";

/** One CNI_* variable: the verbs that read it, those that need it, and its validator (skel's table). */
interface EnvVar {
  name: string;
  usedBy: readonly Verb[];
  requiredFor: readonly Verb[];
  /** Why a set value is wrong, or undefined. */
  problem: (value: string) => string | undefined;
  fix: string;
}

const ATTACHMENT_VERBS: readonly Verb[] = ["ADD", "DEL", "CHECK"];

const ENV_VARS: readonly EnvVar[] = [
  {
    name: "CNI_CONTAINERID",
    usedBy: ATTACHMENT_VERBS,
    requiredFor: ATTACHMENT_VERBS,
    // libcni's rule, which sets no length limit (the IPAM store copes with any length).
    problem: (v) => (CONTAINER_ID.test(v) ? undefined : `"${v}" is not valid`),
    fix: "a container id holds only letters, digits, '_', '.' and '-', starting with a letter or digit",
  },
  {
    name: "CNI_NETNS",
    usedBy: ATTACHMENT_VERBS,
    // DEL must succeed when the namespace is already gone.
    requiredFor: ["ADD", "CHECK"],
    problem: (v) =>
      !isAbsolute(v)
        ? `"${v}" is not an absolute path`
        : !NETNS_PATH.test(v)
          ? `"${v}" has characters podnet does not accept`
          : undefined,
    fix: "set it to the container's network namespace, a path holding only letters, digits and . _ - / @ : +",
  },
  {
    name: "CNI_IFNAME",
    usedBy: ATTACHMENT_VERBS,
    requiredFor: ATTACHMENT_VERBS,
    problem: interfaceNameProblem,
    fix: IFNAME_FIX,
  },
];

export function parseEnvironment(env: NodeJS.ProcessEnv): Environment {
  const command = env.CNI_COMMAND;
  if (!command) {
    throw new CniError(
      ErrorCode.InvalidEnvironment,
      "CNI_COMMAND is not set",
      `set CNI_COMMAND to one of ${VERBS.join(", ")}`,
    );
  }
  if (!(VERBS as readonly string[]).includes(command)) {
    throw new CniError(
      ErrorCode.InvalidEnvironment,
      `CNI_COMMAND "${command}" is not a CNI verb`,
      `use one of ${VERBS.join(", ")}`,
    );
  }
  const verb = command as Verb;
  for (const variable of ENV_VARS) {
    if (!variable.usedBy.includes(verb)) continue;
    const value = env[variable.name] ?? "";
    if (!value) {
      if (variable.requiredFor.includes(verb))
        throw new CniError(ErrorCode.InvalidEnvironment, `${variable.name} is required for ${verb}`, variable.fix);
      continue;
    }
    const problem = variable.problem(value);
    if (problem) throw new CniError(ErrorCode.InvalidEnvironment, `${variable.name} ${problem}`, variable.fix);
  }
  const used = (name: string) => (ATTACHMENT_VERBS.includes(verb) ? (env[name] ?? "") : "");
  return {
    command: verb,
    containerId: used("CNI_CONTAINERID"),
    ifname: used("CNI_IFNAME"),
    netns: used("CNI_NETNS"),
    pod: podFromArgs(env.CNI_ARGS ?? ""),
  };
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
    throw new CniError(
      ErrorCode.IncompatibleVersion,
      `"cniVersion" is missing`,
      `set it to one of ${SUPPORTED_VERSIONS.join(", ")}`,
    );
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

/** A key's value, or why it is refused and, where it differs from the key's, the fix. */
type Parsed<T> = { value: T } | { problem: string; fix?: string };

/** One key of the network config on stdin: its default, its parser and the fix (skel's table, for stdin). */
interface ConfKey<T> {
  /** Used when the key is absent; a key without one is handed to parse as undefined. */
  fallback?: T;
  /** JSON null also picks the fallback. */
  nullIsAbsent?: true;
  parse: (value: unknown) => Parsed<T>;
  fix: string;
  /** A check against the keys read before it, which names the key it blames. */
  relate?: (value: T, earlier: Partial<TableFields>) => { field: string; problem: string; fix: string } | undefined;
}

type TableKey = "name" | "subnet" | "clusterCidr" | "bridge" | "mtu" | "hairpin" | "ipMasq" | "dataDir" | "logFile";
type TableFields = Pick<NetConf, TableKey>;
type ConfTable = { readonly [K in TableKey]: ConfKey<NetConf[K]> };

function cidrKey(example: string, check: (cidr: Cidr) => Parsed<Cidr> = (cidr) => ({ value: cidr })): ConfKey<Cidr> {
  return {
    parse: (v) => {
      if (v === undefined) return { problem: "is required" };
      const parsed = tryParseCidr(v);
      return parsed.ok ? check(parsed.cidr) : { problem: parsed.reason };
    },
    fix: `set it to a CIDR such as ${example}`,
  };
}

function booleanKey(field: string, fallback: boolean): ConfKey<boolean> {
  return {
    fallback,
    parse: (v) =>
      typeof v === "boolean" ? { value: v } : { problem: `must be true or false, not ${JSON.stringify(v)}` },
    fix: `write "${field}": ${fallback}`,
  };
}

function pathKey(field: string, fallback: string, allowEmpty: boolean): ConfKey<string> {
  return {
    fallback,
    parse: (v) =>
      typeof v === "string" && (isAbsolute(v) || (allowEmpty && v === ""))
        ? { value: v }
        : { problem: `must be an absolute path${allowEmpty ? ' or ""' : ""}, not ${JSON.stringify(v)}` },
    fix: `e.g. "${field}": "${fallback}"`,
  };
}

/** Every key podnet reads from its network config, in the order they are checked. */
const CONF_KEYS: ConfTable = {
  name: {
    parse: (v) =>
      typeof v === "string" && NETWORK_NAME.test(v)
        ? { value: v }
        : { problem: `must be a network name of letters, digits, '_', '.' and '-', not ${JSON.stringify(v)}` },
    fix: `e.g. "name": "podnet"`,
  },
  subnet: cidrKey("10.244.1.0/24", (subnet) => {
    if (subnet.prefix > 30) {
      return {
        problem: `${formatCidr(subnet)} leaves no address for pods beside the gateway`,
        fix: "use a prefix of /30 or shorter, normally /24",
      };
    }
    if (subnet.prefix < 8)
      return { problem: `${formatCidr(subnet)} is larger than /8`, fix: "give each node its own /24" };
    return { value: subnet };
  }),
  clusterCidr: {
    ...cidrKey("10.244.0.0/16"),
    relate: (clusterCidr, { subnet }) =>
      subnet && !cidrContains(clusterCidr, subnet)
        ? {
            field: "subnet",
            problem: `${formatCidr(subnet)} is outside clusterCidr ${formatCidr(clusterCidr)}`,
            fix: "the node's subnet must be one of the cluster CIDR's node subnets",
          }
        : undefined,
  },
  bridge: {
    fallback: DEFAULT_BRIDGE,
    nullIsAbsent: true,
    parse: (v) => {
      if (typeof v !== "string") return { problem: "must be an interface name" };
      const problem = interfaceNameProblem(v);
      return problem ? { problem } : { value: v };
    },
    fix: `e.g. "bridge": "${DEFAULT_BRIDGE}"`,
  },
  mtu: {
    fallback: DEFAULT_MTU,
    nullIsAbsent: true,
    parse: (v) =>
      typeof v === "number" && Number.isInteger(v) && v >= 576 && v <= 9216
        ? { value: v }
        : { problem: `must be a whole number from 576 to 9216, not ${JSON.stringify(v)}` },
    fix: `e.g. "mtu": ${DEFAULT_MTU}`,
  },
  hairpin: booleanKey("hairpin", DEFAULT_HAIRPIN),
  ipMasq: booleanKey("ipMasq", DEFAULT_IP_MASQ),
  dataDir: pathKey("dataDir", DEFAULT_DATA_DIR, false),
  logFile: pathKey("logFile", DEFAULT_LOG_FILE, true),
};

function readKey<T>(raw: Record<string, unknown>, field: string, key: ConfKey<T>, earlier: Partial<TableFields>): T {
  const v = raw[field];
  if (key.fallback !== undefined && (v === undefined || (v === null && key.nullIsAbsent))) return key.fallback;
  const parsed = key.parse(v);
  if (!("value" in parsed)) throw invalid(field, parsed.problem, parsed.fix ?? key.fix);
  const conflict = key.relate?.(parsed.value, earlier);
  if (conflict) throw invalid(conflict.field, conflict.problem, conflict.fix);
  return parsed.value;
}

/** Refuses keys that are another spelling of a podnet key, which would otherwise be ignored. */
function refuseMisspellings(raw: Record<string, unknown>): void {
  for (const key of Object.keys(raw)) {
    const right = FIELD_SPELLINGS[key.toLowerCase()];
    if (right && right !== key) throw invalid(key, "is not a podnet field", `did you mean "${right}"?`);
  }
  if (raw.clusterCidr === undefined && raw.network !== undefined) {
    throw invalid("network", "is the labs' name for the cluster CIDR", 'rename it to "clusterCidr"');
  }
}

/** Validates the plugin's network config (the podnet entry of a conflist, as the runtime passes it). */
export function parseNetConf(raw: Record<string, unknown>): NetConf {
  const cniVersion = requestedVersion(raw);
  refuseMisspellings(raw);
  const fields: Partial<Record<TableKey, unknown>> = {};
  for (const field of Object.keys(CONF_KEYS) as TableKey[]) {
    fields[field] = readKey<unknown>(raw, field, CONF_KEYS[field] as ConfKey<unknown>, fields as Partial<TableFields>);
  }
  const conf: NetConf = { cniVersion, ...(fields as TableFields) };
  if (raw.prevResult !== undefined) conf.prevResult = raw.prevResult;
  const lists = GC_ATTACHMENT_KEYS.filter((key) => raw[key] !== undefined);
  // Both may come (libcni sends both for that reason): keeping what either lists is safe.
  if (lists.length > 0) conf.validAttachments = lists.flatMap((key) => parseAttachments(key, raw[key]));
  return conf;
}

/**
 * GC's list of attachments to keep: SPEC 1.1.0's text names it "cni.dev/attachments",
 * libcni sends "cni.dev/valid-attachments" (containernetworking/cni#1101). Both are read.
 */
export const GC_ATTACHMENT_KEYS = ["cni.dev/valid-attachments", "cni.dev/attachments"] as const;

function parseAttachments(field: string, value: unknown): Attachment[] {
  if (!Array.isArray(value))
    throw invalid(field, "must be a list of {containerID, ifname}", "this is set by the runtime for GC");
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
