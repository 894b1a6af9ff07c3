// Host plumbing shared by the runtime tests and the CNI bench: running commands with
// readable failures, network namespaces standing in for "the node", and an inventory of
// the shared paths that podman, runc and containerd write outside their own dirs, so
// each run can remove exactly what it created.
import { spawn, spawnSync } from "node:child_process";
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TOOL_PATH } from "../../cni/exec";
import { NETFILTER_LOCK_DIR, netfilterLockFile } from "../../cni/netfilter";
import { pathWithBun } from "../../lab/bun";

export const REPO_ROOT = join(__dirname, "..", "..");

/**
 * Runtimes and the plugin call sbin tools, which the test process's PATH may lack; the
 * pinned Bun comes first, as /opt/podnet/bin does on a node (dist/podnet's shebang).
 */
export const SBIN_PATH = pathWithBun(TOOL_PATH);

export interface Cmd {
  status: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  input?: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  cwd?: string;
}

/** Runs a command to completion; never throws for a non-zero exit. */
export function sh(argv: string[], options: RunOptions = {}): Cmd {
  const [cmd, ...args] = argv;
  const out = spawnSync(cmd, args, {
    input: options.input,
    encoding: "utf8",
    env: { ...process.env, PATH: SBIN_PATH, ...options.env },
    timeout: options.timeoutMs ?? 60_000,
    cwd: options.cwd,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (out.error) {
    const code = (out.error as NodeJS.ErrnoException).code;
    return {
      status: 127,
      stdout: out.stdout ?? "",
      stderr: `${cmd}: ${code === "ENOENT" ? "not installed" : out.error.message}`,
    };
  }
  return { status: out.status ?? 128, stdout: out.stdout, stderr: out.stderr };
}

export function describeCmd(argv: string[], res: Cmd): string {
  const tail = (s: string) => s.trim().split("\n").slice(-15).join("\n");
  return `\`${argv.join(" ")}\` exited ${res.status}${res.stderr.trim() ? `\nstderr: ${tail(res.stderr)}` : ""}${
    res.stdout.trim() ? `\nstdout: ${tail(res.stdout)}` : ""
  }`;
}

/** Runs a command and returns stdout; throws naming the command, status and output. */
export function must(argv: string[], options: RunOptions = {}): string {
  const res = sh(argv, options);
  if (res.status !== 0) throw new Error(describeCmd(argv, res));
  return res.stdout;
}

/** These suites need root; without it they fail with this message rather than skip. */
export function requireRoot(what: string): void {
  if (typeof process.getuid !== "function" || process.getuid() !== 0) {
    throw new Error(
      `${what} must run as root (network namespaces, iptables, podman and containerd); run \`sudo npm test\`. ` +
        "They are not skipped, so a CI that is not root shows up as a failure.",
    );
  }
}

/** Fails with the apt package to install when a tool is missing. */
export function requireTools(tools: Record<string, string>): void {
  const missing = Object.entries(tools).filter(([tool]) => sh(["sh", "-c", `command -v ${tool}`]).status !== 0);
  if (missing.length > 0) {
    throw new Error(
      `missing tools: ${missing.map(([t]) => t).join(", ")}; run \`npm run setup\` ` +
        `(apt-get install ${[...new Set(missing.map(([, pkg]) => pkg))].join(" ")})`,
    );
  }
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function netnsPath(name: string): string {
  return `/run/netns/${name}`;
}

export function addNetns(name: string): void {
  must(["ip", "netns", "add", name]);
  must(["ip", "-n", name, "link", "set", "lo", "up"]);
}

/** Deletes a named netns if it exists; returns an error message or undefined. */
export function delNetns(name: string): string | undefined {
  if (!existsSync(netnsPath(name))) return undefined;
  const res = sh(["ip", "netns", "del", name]);
  return res.status === 0 ? undefined : describeCmd(["ip", "netns", "del", name], res);
}

/** argv prefixed so it runs in the named netns without a private mount namespace. */
export function inNetns(name: string, argv: string[]): string[] {
  return ["nsenter", `--net=${netnsPath(name)}`, ...argv];
}

// Running a command as on a node (its netns and its own sysfs): the lab's definition.
export { onNode } from "../../lab/sh";

/**
 * argv run in a private mount namespace with a tmpfs over /var/log: podnet appends VERSION
 * calls to /var/log/podnet.log whatever the config says, and direct calls must not write there.
 */
export function withPrivateVarLog(argv: string[]): string[] {
  return [
    "unshare",
    "-m",
    "--propagation",
    "private",
    "sh",
    "-c",
    'mount -t tmpfs pnrt-varlog /var/log && exec "$@"',
    "sh",
    ...argv,
  ];
}

/** Inode of a netns: podnet names its netfilter lock file after it. */
/** The plugin's lock file for a node namespace (cni/netfilter.ts): ours to remove. */
export function nodeLockFile(name: string): string {
  return netfilterLockFile(netnsPath(name));
}

/** Unmounts every mount at or below dir (deepest first), e.g. podman's shm tmpfs. */
export function unmountBelow(dir: string): string[] {
  const errors: string[] = [];
  const points = readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((l) => l.split(" ")[4])
    .filter((p): p is string => !!p && (p === dir || p.startsWith(`${dir}/`)))
    .sort((a, b) => b.length - a.length);
  for (const p of points) {
    const res = sh(["umount", "-l", p]);
    if (res.status !== 0) errors.push(describeCmd(["umount", "-l", p], res));
  }
  return errors;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves to the promise's value, or to `fallback` after ms (the timer never outlives it). */
export async function within<T, F>(promise: Promise<T>, ms: number, fallback: F): Promise<T | F> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<F>((resolve) => {
    timer = setTimeout(() => resolve(fallback), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls until check returns a value; throws with describe() after the timeout. */
export async function waitFor<T>(check: () => T | undefined, timeoutMs: number, describe: () => string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${describe()}`);
    await sleep(100);
  }
}

/** A background process whose output goes to a file; kill() targets its pid only. */
export class Background {
  readonly pid: number;
  exitCode: number | null = null;
  readonly exited: Promise<number>;

  constructor(
    readonly argv: string[],
    readonly logFile: string,
    env: NodeJS.ProcessEnv = {},
  ) {
    const fd = openSync(logFile, "a");
    const child = spawn(argv[0], argv.slice(1), {
      stdio: ["ignore", fd, fd],
      env: { ...process.env, PATH: SBIN_PATH, ...env },
    });
    closeSync(fd);
    if (child.pid === undefined) throw new Error(`cannot start ${argv.join(" ")}`);
    this.pid = child.pid;
    this.exited = new Promise((resolve) => {
      child.on("exit", (code, signal) => {
        this.exitCode = code ?? (signal ? 128 : 1);
        resolve(this.exitCode);
      });
      child.on("error", () => {
        this.exitCode = 127;
        resolve(127);
      });
    });
  }

  get running(): boolean {
    return this.exitCode === null;
  }

  output(): string {
    try {
      return readFileSync(this.logFile, "utf8");
    } catch {
      return "";
    }
  }

  /** SIGTERM, then SIGKILL after graceMs; resolves when the process is gone. */
  async stop(graceMs = 5_000): Promise<void> {
    if (!this.running) return;
    process.kill(this.pid, "SIGTERM");
    const timer = setTimeout(() => {
      if (this.running) process.kill(this.pid, "SIGKILL");
    }, graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

/**
 * Paths runtimes write to whatever their config says. Recorded before a run; afterwards
 * what the run created is removed and what existed is left with only our own entries gone.
 */
export const SHARED_PATHS = [
  "/var/lib/cni",
  "/var/lib/cni/results",
  "/var/lib/containers",
  "/var/lib/containers/cache",
  "/run/runc",
  "/run/containerd",
  "/run/containerd/fifo",
  "/run/containerd/s",
  "/run/containerd/runc",
  "/opt/containerd",
  NETFILTER_LOCK_DIR,
] as const;

export class HostTraces {
  private readonly existed: Set<string>;

  constructor() {
    this.existed = new Set(SHARED_PATHS.filter((p) => existsSync(p)));
  }

  createdByUs(path: (typeof SHARED_PATHS)[number]): boolean {
    return !this.existed.has(path) && existsSync(path);
  }

  /**
   * Removes the given files (our own entries in shared dirs), then what this run created:
   * whole trees that only runtimes use, and the rest only when left empty.
   */
  cleanup(ownEntries: string[]): string[] {
    const errors: string[] = [];
    const remove = (p: string, recursive: boolean) => {
      try {
        rmSync(p, { recursive, force: true });
      } catch (e) {
        errors.push(`cannot remove ${p}: ${(e as Error).message}`);
      }
    };
    for (const p of ownEntries) remove(p, true);
    // Only runtimes we started write these; if we created them, they are ours.
    for (const p of ["/run/containerd", "/run/runc", "/opt/containerd", "/var/lib/containers/cache"] as const) {
      if (this.createdByUs(p)) remove(p, true);
    }
    // Shared with other users of CNI (and podnet's default dataDir): drop only if empty.
    for (const p of ["/var/lib/cni/results", "/var/lib/cni", "/var/lib/containers", NETFILTER_LOCK_DIR] as const) {
      if (this.createdByUs(p)) rmdirIfEmpty(p);
    }
    return errors;
  }
}

function rmdirIfEmpty(p: string): void {
  try {
    if (readdirSync(p).length === 0) rmdirSync(p);
  } catch {
    // Someone else is using it now: leave it.
  }
}

/** Runs every step, collecting failures, so one failed step never skips the rest. */
export function runAll(steps: Array<[string, () => string[] | string | undefined]>): string[] {
  const errors: string[] = [];
  for (const [name, step] of steps) {
    try {
      const out = step();
      const list = Array.isArray(out) ? out : out ? [out] : [];
      errors.push(...list.map((e) => `${name}: ${e}`));
    } catch (e) {
      errors.push(`${name}: ${(e as Error).message}`);
    }
  }
  return errors;
}
