// The CNI verbs, one small function each, and the dispatcher main.ts calls.

import {
  decodeJson,
  type Environment,
  GC_ATTACHMENT_KEYS,
  type NetConf,
  parseEnvironment,
  parseNetConf,
  replyVersion,
} from "./config";
import { DEFAULT_LOG_FILE } from "./conflist";
import { asCniError, CniError, ErrorCode } from "./errors";
import { TOOL_PATH } from "./exec";
import { accessSync, constants, type Stats, statSync } from "./fs";
import { IpamStore } from "./ipam";
import { formatCidr, formatIPv4, gatewayOf, parseIPv4 } from "./ipv4";
import {
  type AttachmentSpec,
  type BridgeSpec,
  bridgeCheckText,
  bridgeConflict,
  checkAttachment,
  createAttachment,
  createAttachmentFromPod,
  deleteHostVeth,
  hostVethName,
  listHostVeths,
  parseIpOrThrow,
  readBridge,
  setBridgeAlias,
} from "./links";
import { type LogEntry, logDirProblem } from "./log";
import { ensureIpForward, ensureNodeRules, type RuleSpec, readIptables, ruleDrift, rulesText } from "./netfilter";
import { currentNetnsInode, nodeFingerprint, readSysfsBridge, recentlyVerified, verifiedAlias } from "./nodestate";
import { delimiter, isAbsolute, join } from "./path";
import { kindOf } from "./safefs";
import { trustFix, type Untrusted } from "./trust";
import { convertResult, parsePrevResult, type Result, requireVersionFor, SUPPORTED_VERSIONS } from "./version";

export interface Outcome {
  /** What goes to stdout (undefined: nothing, as for DEL/GC/STATUS success). */
  output?: unknown;
  /** Extra fields for the log line. */
  ip?: string;
  warnings?: string[];
}

function bridgeSpec(conf: NetConf): BridgeSpec {
  return { name: conf.bridge, subnet: conf.subnet, mtu: conf.mtu };
}

function ruleSpec(conf: NetConf): RuleSpec {
  return { subnet: conf.subnet, clusterCidr: conf.clusterCidr, ipMasq: conf.ipMasq };
}

function attachmentSpec(env: Environment, conf: NetConf, podIp: number): AttachmentSpec {
  const hostIfname = hostVethName(env.containerId, env.ifname);
  return {
    bridge: conf.bridge,
    mtu: conf.mtu,
    hairpin: conf.hairpin,
    netns: env.netns,
    ifname: env.ifname,
    hostIfname,
    podIp,
    subnet: conf.subnet,
  };
}

function store(conf: NetConf): IpamStore {
  return new IpamStore(conf.dataDir, conf.name, conf.subnet);
}

/**
 * CNI_NETNS must be a network namespace before anything is reserved: a namespace file is
 * an nsfs inode, on the file system /proc/self/ns/net is on.
 */
function requireNetns(env: Environment): void {
  const fix =
    "set CNI_NETNS to the container's network namespace (/var/run/netns/<name> or /proc/<pid>/ns/net); it must exist for the whole call";
  let info: Stats;
  try {
    info = statSync(env.netns);
  } catch (e) {
    throw new CniError(
      ErrorCode.InvalidEnvironment,
      `CNI_NETNS ${env.netns} does not exist (${(e as NodeJS.ErrnoException).code})`,
      fix,
    );
  }
  if (info.dev !== statSync("/proc/self/ns/net").dev) {
    const kind = info.isFile() ? "a regular file" : kindOf(info);
    throw new CniError(
      ErrorCode.InvalidEnvironment,
      `CNI_NETNS ${env.netns} is not a network namespace but ${kind}`,
      fix,
    );
  }
}

export function cmdAdd(env: Environment, conf: NetConf): Outcome {
  requireNetns(env);
  ensureIpForward();
  const ipam = store(conf);
  const { ip, reused } = ipam.allocate(env.containerId, env.ifname);
  const spec = attachmentSpec(env, conf, parseIpOrThrow(ip, "reserved address"));
  const hostIfname = spec.hostIfname;
  let macs: { podMac: string; hostMac: string };
  try {
    // A repeated ADD rebuilds the links around the address the attachment already holds.
    if (reused) deleteHostVeth(hostIfname);
    macs = attach(spec, conf);
  } catch (error) {
    rollback(() => deleteHostVeth(hostIfname));
    rollback(() => ipam.release(env.containerId, env.ifname));
    throw explainAddFailure(error, env, hostIfname);
  }
  const result: Result = {
    interfaces: [
      { name: hostIfname, mac: macs.hostMac, mtu: conf.mtu },
      { name: env.ifname, mac: macs.podMac, sandbox: env.netns, mtu: conf.mtu },
    ],
    ips: [{ address: `${ip}/${conf.subnet.prefix}`, gateway: formatIPv4(gatewayOf(conf.subnet)), interface: 1 }],
    routes: [{ dst: "0.0.0.0/0", gw: formatIPv4(gatewayOf(conf.subnet)) }],
    dns: {},
  };
  return { output: convertResult(result, conf.cniVersion), ip, warnings: ipam.warnings };
}

/**
 * The pod's links: one process when the node was checked within the window
 * (cni/nodestate.ts), otherwise the full path, which checks the bridge and the rules,
 * repairs them and records the check in the bridge's alias.
 */
function attach(spec: AttachmentSpec, conf: NetConf): { podMac: string; hostMac: string } {
  const rules = ruleSpec(conf);
  const bridge = bridgeSpec(conf);
  const fingerprint = nodeFingerprint([...rulesText(rules), bridgeCheckText(bridge)]);
  const netnsInode = currentNetnsInode();
  const now = Date.now() / 1000;
  const seen = readSysfsBridge(bridge.name);
  if (seen?.up && recentlyVerified(seen.alias, fingerprint, netnsInode, now)) {
    const made = createAttachmentFromPod(spec, seen.ifindex);
    if (made) return made;
  }
  const made = createAttachment(spec, bridge);
  if (!recentlyVerified(made.bridgeAlias, fingerprint, netnsInode, now)) {
    ensureNodeRules(rules);
    setBridgeAlias(bridge.name, verifiedAlias(fingerprint, netnsInode, now));
  }
  return made;
}

function rollback(step: () => unknown): void {
  try {
    step();
  } catch {
    // The original error is what the runtime needs to see.
  }
}

function explainAddFailure(error: unknown, env: Environment, hostIfname: string): CniError {
  const err = asCniError(error);
  if (/File exists/.test(err.details) && /link add/.test(err.message)) {
    return new CniError(
      ErrorCode.NetworkSetupFailed,
      `cannot create the veth pair: ${env.ifname} already exists in ${env.netns} or ${hostIfname} on the node`,
      err.details,
    );
  }
  return err;
}

export function cmdDel(env: Environment, conf: NetConf): Outcome {
  const ipam = store(conf);
  const released = ipam.release(env.containerId, env.ifname);
  deleteHostVeth(hostVethName(env.containerId, env.ifname));
  return { ip: released.join(","), warnings: ipam.warnings };
}

export function cmdCheck(env: Environment, conf: NetConf): Outcome {
  requireVersionFor("CHECK", conf.cniVersion, "0.4.0");
  const prev = parsePrevResult(conf.prevResult);
  const podIndex = prev.interfaces.findIndex((i) => i.name === env.ifname && i.sandbox !== undefined);
  const prevIp = prev.ips.find((i) => i.interface === podIndex) ?? prev.ips[0];
  if (!prevIp)
    throw new CniError(
      ErrorCode.InvalidConfig,
      "prevResult has no IP for the container",
      "pass the ADD result as prevResult",
    );
  const podIp = parseIpOrThrow(prevIp.address, "prevResult ips[].address");
  requireNetns(env);
  const ipam = store(conf);
  const reservation = ipam.find(env.containerId, env.ifname);
  if (!reservation) {
    throw new CniError(
      ErrorCode.NetworkSetupFailed,
      `no IPAM reservation for ${env.containerId}/${env.ifname}`,
      `expected ${formatIPv4(podIp)}`,
    );
  }
  if (parseIPv4(reservation.ip) !== podIp) {
    throw new CniError(
      ErrorCode.NetworkSetupFailed,
      `IPAM reserves ${reservation.ip} for ${env.containerId}/${env.ifname}, but the ADD result says ${formatIPv4(podIp)}`,
    );
  }
  try {
    checkAttachment({ ...attachmentSpec(env, conf, podIp), bridgeSpec: bridgeSpec(conf) });
    const drift = ruleDrift(readIptables(), ruleSpec(conf));
    if (drift.length > 0) {
      throw new CniError(
        ErrorCode.NetworkSetupFailed,
        `node iptables rules are wrong: ${drift.join("; ")}`,
        "the next ADD repairs them",
      );
    }
  } catch (error) {
    // Forget the last node check, so that the next ADD checks the bridge and the rules
    // again (and repairs them) instead of trusting the record in the alias.
    rollback(() => setBridgeAlias(conf.bridge, ""));
    throw error;
  }
  return { ip: reservation.ip, warnings: ipam.warnings };
}

export function cmdGc(conf: NetConf): Outcome {
  requireVersionFor("GC", conf.cniVersion, "1.1.0");
  if (!conf.validAttachments) {
    throw new CniError(
      ErrorCode.InvalidConfig,
      `GC needs "${GC_ATTACHMENT_KEYS.join('" or "')}"`,
      "the runtime lists the attachments it still has",
    );
  }
  const ipam = store(conf);
  const released = ipam.gc(conf.validAttachments);
  const keep = new Set(conf.validAttachments.map((a) => hostVethName(a.containerId, a.ifname)));
  for (const veth of listHostVeths(conf.bridge)) {
    if (!keep.has(veth)) deleteHostVeth(veth);
  }
  return { ip: released.map((r) => r.ip).join(","), warnings: ipam.warnings };
}

const REQUIRED_TOOLS = ["ip", "nsenter", "iptables-save", "iptables-restore", "flock"];

function onPath(tool: string): boolean {
  return TOOL_PATH.split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, tool), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

export function cmdStatus(conf: NetConf): Outcome {
  requireVersionFor("STATUS", conf.cniVersion, "1.1.0");
  const unavailable = (msg: string, details = "") => new CniError(ErrorCode.NotAvailable, msg, details);
  const missing = REQUIRED_TOOLS.filter((t) => !onPath(t));
  if (missing.length > 0)
    throw unavailable(`missing tools: ${missing.join(", ")}`, "install iproute2, iptables and util-linux");
  const ipam = store(conf);
  try {
    ipam.create();
    accessSync(ipam.dir, constants.W_OK);
  } catch (e) {
    if (e instanceof CniError) throw unavailable(e.message, e.details);
    throw unavailable(`IPAM store ${ipam.dir} is not writable: ${(e as Error).message}`);
  }
  const held = ipam.list().length;
  if (held >= ipam.capacity) {
    throw unavailable(
      `no free address in ${formatCidr(conf.subnet)}: all ${ipam.capacity} are reserved`,
      `reservations are in ${ipam.dir}`,
    );
  }
  const bridge = readBridge(conf.bridge);
  const conflict = bridge ? bridgeConflict(bridge, bridgeSpec(conf)) : undefined;
  if (conflict) throw unavailable(conflict.message, conflict.details);
  return { warnings: ipam.warnings };
}

export function cmdVersion(stdin: string): Outcome {
  return { output: { cniVersion: replyVersion(stdin), supportedVersions: [...SUPPORTED_VERSIONS] } };
}

export interface Invocation {
  exitCode: number;
  stdout: string;
  /** Where and what to log; VERSION carries no network config, so it has no log. */
  log?: { file: string; entry: Omit<LogEntry, "time" | "durationMs"> };
}

/**
 * Where this call logs, known before anything is parsed so that every error (the CNI_*
 * variables' too) is logged where the config says: its logFile when stdin has a usable one.
 * `problem` is set (and the log not written) when others could write the log's directory.
 */
function logTarget(raw: Record<string, unknown> | undefined): { file: string; problem?: Untrusted } {
  let file = DEFAULT_LOG_FILE;
  if (typeof raw?.logFile === "string" && (raw.logFile === "" || isAbsolute(raw.logFile))) file = raw.logFile;
  const problem = file ? logDirProblem(file) : undefined;
  return problem ? { file: "", problem } : { file };
}

/** stdin as an object when it is one; undefined when it is not JSON (the call reports that itself). */
function decodeLoosely(stdin: string): Record<string, unknown> | undefined {
  try {
    const raw: unknown = JSON.parse(stdin);
    return raw !== null && typeof raw === "object" ? (raw as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function untrustedLog(problem: Untrusted): CniError {
  return new CniError(
    ErrorCode.IoFailure,
    `logFile: ${problem.path} is ${problem.reason}, so root does not write a log there`,
    `${trustFix(problem)}, or set "logFile" to a file in such a directory ("" turns the log off)`,
  );
}

/** Runs one plugin call: parse, dispatch, render the result or the spec's error JSON. */
export function invoke(envVars: NodeJS.ProcessEnv, stdin: string): Invocation {
  let log: ReturnType<typeof logTarget> | undefined;
  // stdin decoded once: by the config parse on the usual path, here only when a call fails before it.
  let decoded: Record<string, unknown> | undefined;
  const target = () => (log ??= logTarget(decoded ?? decodeLoosely(stdin)));
  let entry: Omit<LogEntry, "time" | "durationMs"> = { verb: envVars.CNI_COMMAND ?? "", result: "ok" };
  try {
    const env = parseEnvironment(envVars);
    entry = {
      verb: env.command,
      containerId: env.containerId || undefined,
      ifname: env.ifname || undefined,
      netns: env.netns || undefined,
      pod: env.pod || undefined,
      result: "ok",
    };
    if (env.command === "VERSION") return { ...done(cmdVersion(stdin)), log: undefined };
    decoded = decodeJson(stdin);
    const conf = parseNetConf(decoded);
    entry.network = conf.name;
    const problem = target().problem;
    if (problem) throw untrustedLog(problem);
    switch (env.command) {
      case "ADD":
        return done(cmdAdd(env, conf));
      case "DEL":
        return done(cmdDel(env, conf));
      case "CHECK":
        return done(cmdCheck(env, conf));
      case "GC":
        return done(cmdGc(conf));
      case "STATUS":
        return done(cmdStatus(conf));
    }
  } catch (error) {
    const err = asCniError(error);
    return {
      exitCode: 1,
      stdout: `${JSON.stringify(err.toJSON(replyVersion(stdin)))}\n`,
      log: { file: target().file, entry: { ...entry, result: "error", code: err.code, msg: err.message } },
    };
  }

  function done(outcome: Outcome): Invocation {
    const extra = {
      ...(outcome.ip ? { ip: outcome.ip } : {}),
      ...(outcome.warnings?.length ? { warnings: outcome.warnings } : {}),
    };
    return {
      exitCode: 0,
      stdout: outcome.output === undefined ? "" : `${JSON.stringify(outcome.output)}\n`,
      log: { file: target().file, entry: { ...entry, ...extra } },
    };
  }
}
