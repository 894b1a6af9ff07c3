// Running the node's own tools. Each call is one process: netlink work is batched into a
// single `ip -batch` per namespace, so an ADD costs a handful of execs.
import type * as ChildProcess from "node:child_process";
import { CniError, ErrorCode } from "./errors";

// Runtimes call plugins with their own environment, which may lack the sbin directories.
// Empty entries (an unset PATH arrives as "/opt/podnet/bin:" from the shebang) would mean
// the current directory: dropped.
export const TOOL_PATH = [
  ...(process.env.PATH ?? "").split(":"),
  "/usr/local/sbin",
  "/usr/sbin",
  "/sbin",
  "/usr/local/bin",
  "/usr/bin",
  "/bin",
]
  .filter(Boolean)
  .join(":");

export interface RunResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Processes this call started and the time spent in them: logged with every call. */
export const execStats = { count: 0, ms: 0 };

/** Runs a command; never throws for a non-zero exit (callers decide what a failure means). */
export function run(command: string, args: string[], input?: string): RunResult {
  const started = process.hrtime.bigint();
  execStats.count += 1;
  // Loaded on first use: a call whose links all go through netlink starts no process, and
  // loading child_process costs Bun about a millisecond of every start.
  const { spawnSync } = require("node:child_process") as typeof ChildProcess;
  const out = spawnSync(command, args, {
    input,
    encoding: "utf8",
    env: { ...process.env, PATH: TOOL_PATH },
    maxBuffer: 64 * 1024 * 1024,
  });
  execStats.ms += Number(process.hrtime.bigint() - started) / 1e6;
  // A tool that fails before reading all its input (nsenter refusing a namespace) surfaces as
  // EPIPE; it did run, and its exit status and stderr say why it stopped.
  const failedEarly = (out.error as NodeJS.ErrnoException | undefined)?.code === "EPIPE" && !!out.status;
  if (out.error && !failedEarly) {
    const missing = (out.error as NodeJS.ErrnoException).code === "ENOENT";
    throw new CniError(
      ErrorCode.IoFailure,
      missing ? `${command} is not installed on this node` : `cannot run ${command}: ${out.error.message}`,
      missing ? `install the package that provides ${command} (iproute2, iptables, util-linux)` : "",
    );
  }
  return { status: out.status ?? 1, stdout: out.stdout, stderr: out.stderr };
}

/** Prefix that runs a command inside the network namespace at `netns` (a path). */
function inNetns(netns: string | undefined, command: string, args: string[]): [string, string[]] {
  return netns ? ["nsenter", [`--net=${netns}`, command, ...args]] : [command, args];
}

/**
 * Runs `ip` commands in one process, in the current namespace or in `netns`.
 * Stops at the first failing command; the error names it.
 */
export function ipBatch(commands: string[], netns?: string, options: string[] = []): string {
  if (commands.length === 0) return "";
  const [cmd, args] = inNetns(netns, "ip", ["-json", ...options, "-batch", "-"]);
  const res = run(cmd, args, `${commands.join("\n")}\n`);
  if (res.status !== 0) {
    const failed = failedCommand(res.stderr, commands);
    const error = new CniError(
      ErrorCode.NetworkSetupFailed,
      `ip failed${netns ? ` in ${netns}` : ""}: ${failed ? `"ip ${failed}": ` : ""}${failureReason(res.stderr)}`,
      res.stderr.trim(),
    );
    error.failedCommand = failed ? `"ip ${failed}"` : undefined;
    throw error;
  }
  return res.stdout;
}

/** Runs one `ip` command; returns the result without throwing. */
export function ip(args: string[], netns?: string): RunResult {
  const [cmd, full] = inNetns(netns, "ip", args);
  return run(cmd, full);
}

/** `ip -batch` reports "Command failed -:N" for the Nth line: that command. */
function failedCommand(stderr: string, commands: string[]): string | undefined {
  const line = /Command failed -:(\d+)/.exec(stderr);
  return line ? commands[Number(line[1]) - 1] : undefined;
}

function failureReason(stderr: string): string {
  const reason = stderr
    .split("\n")
    .filter((l) => l && !l.startsWith("Command failed"))
    .join("; ")
    .trim();
  return reason || "failed";
}

export function isNotFound(stderr: string): boolean {
  return /Cannot find device|does not exist|No such device|not found/i.test(stderr);
}
