// Running the node's tools from the lab controller. The controller itself stays in the
// host's root network namespace and never changes anything there: every command that
// touches links, routes, sysctls or iptables runs inside one of the lab's namespaces,
// through `nsenter --net=/run/netns/<name>` (or `ip -n <name>` for ip(8)).
import { spawn, spawnSync } from "node:child_process";
import { TOOL_PATH } from "../cni/exec";

export const NETNS_DIR = "/run/netns";

// The directories the plugin itself runs its tools from.
export const ENV_WITH_SBIN: NodeJS.ProcessEnv = { ...process.env, PATH: TOOL_PATH };

export interface Ran {
  status: number;
  stdout: string;
  stderr: string;
}

export class CommandError extends Error {
  constructor(
    readonly argv: readonly string[],
    readonly ran: Ran,
  ) {
    super(`${argv.join(" ")} failed (exit ${ran.status}): ${(ran.stderr || ran.stdout).trim() || "no output"}`);
  }
}

export function netnsPath(name: string): string {
  return `${NETNS_DIR}/${name}`;
}

/** argv that runs `argv` inside the named network namespace (undefined: where we are). */
export function inNetns(netns: string | undefined, argv: readonly string[]): string[] {
  return netns ? ["nsenter", `--net=${netnsPath(netns)}`, ...argv] : [...argv];
}

/**
 * argv that runs `argv` as a process of the node `netns` does: in its network namespace and
 * with its own sysfs (`ip netns exec` mounts it in a private mount namespace), as a runtime
 * on a real node runs plugins. podnet reads the bridge from sysfs.
 */
export function onNode(netns: string, argv: readonly string[]): string[] {
  return ["ip", "netns", "exec", netns, ...argv];
}

/** Runs a command to completion; never throws for a non-zero exit. */
export function runSync(argv: readonly string[], input?: string, env: NodeJS.ProcessEnv = ENV_WITH_SBIN): Ran {
  const [cmd, ...args] = argv;
  const out = spawnSync(cmd, args, { input, encoding: "utf8", env, maxBuffer: 64 * 1024 * 1024 });
  if (out.error) {
    const missing = (out.error as NodeJS.ErrnoException).code === "ENOENT";
    return {
      status: 127,
      stdout: "",
      stderr: missing ? `${cmd}: not installed (run scripts/setup.sh as root)` : out.error.message,
    };
  }
  return { status: out.status ?? 1, stdout: out.stdout, stderr: out.stderr };
}

/** Runs a command and throws CommandError unless it exits 0; returns stdout. */
export function mustSync(argv: readonly string[], input?: string, env?: NodeJS.ProcessEnv): string {
  const ran = runSync(argv, input, env);
  if (ran.status !== 0) throw new CommandError(argv, ran);
  return ran.stdout;
}

/** Async variant (the event loop keeps running, so Ctrl-C is handled while it waits). */
export function run(
  argv: readonly string[],
  options: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<Ran> {
  return new Promise((resolve) => {
    const [cmd, ...args] = argv;
    const child = spawn(cmd, args, { env: options.env ?? ENV_WITH_SBIN, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let timer: NodeJS.Timeout | undefined;
    if (options.timeoutMs) {
      timer = setTimeout(() => {
        stderr += `\n(killed after ${options.timeoutMs} ms)`;
        child.kill("SIGKILL");
      }, options.timeoutMs);
    }
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", (e: NodeJS.ErrnoException) => {
      if (timer) clearTimeout(timer);
      resolve({
        status: 127,
        stdout,
        stderr: e.code === "ENOENT" ? `${cmd}: not installed (run scripts/setup.sh as root)` : e.message,
      });
    });
    child.on("close", (code) => {
      if (timer) clearTimeout(timer);
      resolve({ status: code ?? 1, stdout, stderr });
    });
    child.stdin.on("error", () => undefined);
    child.stdin.end(options.input ?? "");
  });
}

/** `ip -n <netns> -batch -`: many ip(8) commands in one process, stopping at the first failure. */
export function ipBatch(netns: string, commands: readonly string[]): void {
  if (commands.length === 0) return;
  mustSync(["ip", "-n", netns, "-batch", "-"], `${commands.join("\n")}\n`);
}

/** Writes a sysctl inside a namespace (/proc/sys/net is the namespace of the writer). */
export function sysctlIn(netns: string, settings: Record<string, string>): void {
  const script = Object.entries(settings)
    .map(([key, value]) => `echo ${value} > /proc/sys/${key.replace(/\./g, "/")}`)
    .join(" && ");
  mustSync(inNetns(netns, ["sh", "-c", script]));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
