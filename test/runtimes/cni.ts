// The plugin as a node gets it: the esbuild bundle installed with the AMI's `install`
// line beside the reference loopback and portmap, and the conflist renderConflist makes
// for the node's planned subnet (only dataDir and logFile point at temp paths).
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CONFLIST_FILE, PLUGIN_TYPE, renderConflistJson } from "../../cni/conflist";
import { IpamStore, type Reservation } from "../../cni/ipam";
import { parseCidr } from "../../cni/ipv4";
import { type NodePlan, planCluster } from "../../cni/plan";
import { must, REPO_ROOT } from "./host";

export const BUNDLE = join(REPO_ROOT, "dist", PLUGIN_TYPE);
export const REFERENCE_PLUGIN_DIR = "/usr/lib/cni";
export const CLUSTER_CIDR = "10.244.0.0/16";

/** The worker node of a one-worker plan: its subnet, gateway and name. */
export function workerNode(): NodePlan {
  return planCluster({ clusterCidr: CLUSTER_CIDR, nodeMaskSize: 24, workerCount: 1 })[1];
}

function newestSource(): number {
  const dir = join(REPO_ROOT, "cni");
  return Math.max(...readdirSync(dir).map((f) => statSync(join(dir, f)).mtimeMs));
}

/** dist/podnet, rebuilt with `npm run build`'s script when missing or older than cni/. */
export function ensureBundle(): string {
  if (!existsSync(BUNDLE) || statSync(BUNDLE).mtimeMs < newestSource()) {
    must([process.execPath, join(REPO_ROOT, "cni", "build.mjs")], { cwd: REPO_ROOT });
  }
  return BUNDLE;
}

export function sha256File(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

/**
 * A CNI bin dir as the image lays out /opt/cni/bin: the bundle installed the way
 * packer/scripts/60-podnet.sh does, plus links to Debian's reference plugins.
 */
export function installCniBin(binDir: string, referencePlugins: string[] = ["loopback", "portmap"]): string {
  mkdirSync(binDir, { recursive: true });
  must(["install", "-D", "-m", "0755", "-o", "root", "-g", "root", ensureBundle(), join(binDir, PLUGIN_TYPE)]);
  for (const plugin of referencePlugins) {
    const source = join(REFERENCE_PLUGIN_DIR, plugin);
    if (!existsSync(source))
      throw new Error(`${source} is missing: run \`npm run setup\` (apt-get install containernetworking-plugins)`);
    symlinkSync(source, join(binDir, plugin));
  }
  return join(binDir, PLUGIN_TYPE);
}

export interface NodeCni {
  node: NodePlan;
  confDir: string;
  binDir: string;
  dataDir: string;
  logFile: string;
  network: string;
}

/** Writes the node's conflist (podnet then portmap) into confDir under its usual name. */
export function writeNodeConflist(base: string, node: NodePlan = workerNode()): NodeCni {
  const confDir = join(base, "net.d");
  const binDir = join(base, "bin");
  const dataDir = join(base, "ipam");
  const logFile = join(base, "podnet.log");
  mkdirSync(confDir, { recursive: true });
  writeFileSync(
    join(confDir, CONFLIST_FILE),
    renderConflistJson(node, { clusterCidr: CLUSTER_CIDR, dataDir, logFile }),
  );
  installCniBin(binDir);
  return { node, confDir, binDir, dataDir, logFile, network: "podnet" };
}

export function ipamStore(cni: NodeCni): IpamStore {
  return new IpamStore(cni.dataDir, cni.network, parseCidr(cni.node.podCidr));
}

export function reservations(cni: NodeCni): Reservation[] {
  return ipamStore(cni).list();
}

export interface PluginLogLine {
  verb: string;
  containerId?: string;
  ip?: string;
  result: string;
  msg?: string;
  netns?: string;
  pod?: string;
  runtime?: string;
}

/** The plugin's own per-call log: proof that the installed bundle is what ran. */
export function pluginLog(cni: NodeCni): PluginLogLine[] {
  if (!existsSync(cni.logFile)) return [];
  return readFileSync(cni.logFile, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as PluginLogLine);
}
