// Test helpers for real network namespaces: every test "node" is a namespace, so the
// machine's own namespace is never touched. Names carry a per-process prefix so suites
// running at the same time cannot collide.
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { NETFILTER_LOCK_DIR, netfilterLockFile } from "../../cni/netfilter";
import { onNode } from "../../lab/sh";

export const REPO = resolve(__dirname, "..", "..");
export const BUNDLE = join(REPO, "dist", "podnet");

/** Fails (never skips) when the suite cannot do what CI asks of it. */
export function requireRoot(suite: string): void {
  if (typeof process.getuid === "function" && process.getuid() !== 0) {
    throw new Error(`${suite} needs root (network namespaces, iptables): run "sudo npm test"`);
  }
}

export function sh(command: string, args: string[], input?: string): string {
  return execFileSync(command, args, { encoding: "utf8", input, stdio: ["pipe", "pipe", "pipe"] });
}

export function trySh(command: string, args: string[]): { ok: boolean; out: string } {
  try {
    return { ok: true, out: sh(command, args) };
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string };
    return { ok: false, out: `${err.stdout ?? ""}${err.stderr ?? ""}` };
  }
}

export class Namespaces {
  private readonly names: string[] = [];
  constructor(readonly prefix: string) {}

  add(suffix: string): string {
    const name = `${this.prefix}-${suffix}`;
    sh("ip", ["netns", "add", name]);
    this.names.push(name);
    return name;
  }

  /** In-namespace command (ip netns exec). */
  exec(ns: string, command: string, args: string[], input?: string): string {
    return sh("ip", ["netns", "exec", ns, command, ...args], input);
  }

  tryExec(ns: string, command: string, args: string[]): { ok: boolean; out: string } {
    return trySh("ip", ["netns", "exec", ns, command, ...args]);
  }

  remove(name: string): void {
    removeNetfilterLock(`/var/run/netns/${name}`);
    trySh("ip", ["netns", "del", name]);
    const i = this.names.indexOf(name);
    if (i >= 0) this.names.splice(i, 1);
  }

  cleanup(): void {
    for (const name of [...this.names].reverse()) this.remove(name);
    removeEmptyLockDir();
  }
}

/** The plugin's per-namespace lock file (cni/netfilter.ts) for a namespace about to go. */
export function removeNetfilterLock(netnsPath: string): void {
  try {
    rmSync(netfilterLockFile(netnsPath), { force: true });
  } catch {
    // namespace already gone
  }
}

/** The plugin's lock directory, once no lock of anyone's is left in it. */
export function removeEmptyLockDir(): void {
  try {
    rmdirSync(NETFILTER_LOCK_DIR);
  } catch {
    // still in use, or never made
  }
}

export function uniquePrefix(tag: string): string {
  return `${tag}${process.pid.toString(36)}`;
}

export function tempDir(tag: string): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), `${tag}-`));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

export interface PluginCall {
  code: number;
  stdout: string;
  json: Record<string, unknown> | undefined;
  stderr: string;
}

export interface PluginEnv {
  command: string;
  containerId?: string;
  netns?: string;
  ifname?: string;
  args?: string;
  /** More environment, e.g. a variable the shebang must keep from the plugin. */
  extra?: Record<string, string>;
  /**
   * Enter only the node's network namespace (nsenter --net), so the plugin's /sys still
   * shows the host's devices. By default it runs as on a node: `ip netns exec` also mounts
   * the namespace's own sysfs.
   */
  netnsOnly?: boolean;
  /** The node's sysfs, read-only (as in some containers): the plugin cannot write to it. */
  readOnlySysfs?: boolean;
  /** The directory the plugin is started in (runtimes start it wherever they are). */
  cwd?: string;
  /** Run the bundle with this runtime instead of through its shebang (e.g. Node, which has no bun:ffi). */
  runtime?: string;
}

/** Runs the bundled plugin inside the node namespace, as a runtime on that node would. */
export function runPlugin(
  nodeNs: string,
  env: PluginEnv,
  stdin: string,
  onSpawn?: (pid: number) => void,
): Promise<PluginCall> {
  const vars: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin",
    CNI_COMMAND: env.command,
    CNI_PATH: "/opt/cni/bin",
  };
  if (env.containerId !== undefined) vars.CNI_CONTAINERID = env.containerId;
  if (env.netns !== undefined) vars.CNI_NETNS = env.netns;
  if (env.ifname !== undefined) vars.CNI_IFNAME = env.ifname;
  if (env.args !== undefined) vars.CNI_ARGS = env.args;
  Object.assign(vars, env.extra);
  return new Promise((resolvePromise, reject) => {
    // Both exec the plugin in place, so a kill -9 hits the plugin itself.
    const plugin = env.runtime ? [env.runtime, BUNDLE] : [BUNDLE];
    const argv = env.netnsOnly
      ? ["nsenter", `--net=/var/run/netns/${nodeNs}`, ...plugin]
      : env.readOnlySysfs
        ? onNode(nodeNs, ["sh", "-c", 'mount -o remount,ro /sys && exec "$0" "$@"', ...plugin])
        : onNode(nodeNs, plugin);
    const child = spawn(argv[0], argv.slice(1), { env: vars, cwd: env.cwd, stdio: ["pipe", "pipe", "pipe"] });
    if (child.pid !== undefined) onSpawn?.(child.pid);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code, signal) => {
      let json: Record<string, unknown> | undefined;
      try {
        json = stdout.trim() ? (JSON.parse(stdout) as Record<string, unknown>) : undefined;
      } catch {
        json = undefined;
      }
      resolvePromise({ code: code ?? (signal ? 128 : 1), stdout, json, stderr });
    });
    child.stdin.end(stdin);
  });
}

/** Root-namespace facts a suite must leave exactly as it found them. */
export function hostSnapshot(): { links: string; podnetRules: string; ipForward: string } {
  const links = sh("ip", ["-o", "link", "show"])
    .split("\n")
    .map((l) => l.replace(/^\d+: /, "").split(/[:@]/)[0])
    .sort()
    .join(",");
  const podnetRules = sh("iptables-save", [])
    .split("\n")
    .filter((l) => /podnet/i.test(l))
    .join("\n");
  const ipForward = sh("cat", ["/proc/sys/net/ipv4/ip_forward"]).trim();
  return { links, podnetRules, ipForward };
}
