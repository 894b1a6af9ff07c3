// containerd 1.6 as a background process with its root, state, socket and opt dir under a
// temp dir, driven by `ctr run --cni`. ctr reads CNI config from the hardcoded
// /etc/cni/net.d and /opt/cni/bin, so each ctr run happens inside `unshare -m` with our
// dirs bind-mounted over those paths (in that private mount namespace only), and inside
// the node netns, since a CNI plugin works in the netns of whoever execs it.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { NodeCni } from "./cni";
import { Background, type Cmd, describeCmd, inNetns, must, sh, unmountBelow, waitFor, within } from "./host";

/**
 * Runs "$@" with $1 over /etc/cni/net.d and $2 over /opt/cni/bin. A missing mountpoint is
 * made without touching the host: its nearest existing ancestor is covered by a tmpfs that
 * holds bind mounts of everything that was there, and the missing part is created on it.
 */
const CNI_MOUNTS_SCRIPT = `set -eu
conf=$1; bin=$2; scratch=$3; shift 3
mountpoint_for() {
  target=$1
  [ -d "$target" ] && return 0
  anc=$(dirname "$target")
  while [ ! -d "$anc" ]; do anc=$(dirname "$anc"); done
  if [ "$anc" = / ]; then echo "refusing to cover / to create $target" >&2; exit 1; fi
  keep="$scratch/keep$(echo "$anc" | tr / _)"
  mkdir -p "$keep"
  mount --rbind "$anc" "$keep"
  mount -t tmpfs pnrt-cover "$anc"
  for e in "$keep"/* "$keep"/.[!.]*; do
    [ -e "$e" ] || continue
    n=\${e##*/}
    if [ -d "$e" ]; then mkdir "$anc/$n"; else : > "$anc/$n"; fi
    mount --rbind "$e" "$anc/$n"
  done
  mkdir -p "$target"
}
mountpoint_for /etc/cni/net.d
mount --bind "$conf" /etc/cni/net.d
mountpoint_for /opt/cni/bin
mount --bind "$bin" /opt/cni/bin
exec "$@"
`;

export class Containerd {
  /** Unique: /run/containerd/runc/<namespace> is shared by every containerd on the host. */
  readonly namespace = `pnrt-${process.pid}`;
  readonly socket: string;
  private readonly fifoDir: string;
  private readonly script: string;
  private daemon: Background | undefined;
  private readonly runs = new Map<string, Background>();
  private execs = 0;

  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true });
    this.socket = join(dir, "containerd.sock");
    this.fifoDir = join(dir, "fifo");
    mkdirSync(this.fifoDir, { recursive: true });
    this.script = join(dir, "cni-mounts.sh");
    writeFileSync(this.script, CNI_MOUNTS_SCRIPT);
  }

  async start(): Promise<void> {
    const config = join(this.dir, "config.toml");
    writeFileSync(
      config,
      [
        "version = 2",
        `root = ${JSON.stringify(join(this.dir, "root"))}`,
        `state = ${JSON.stringify(join(this.dir, "state"))}`,
        'disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", ' +
          '"io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.devmapper"]',
        "[grpc]",
        `  address = ${JSON.stringify(this.socket)}`,
        "[ttrpc]",
        `  address = ${JSON.stringify(`${this.socket}.ttrpc`)}`,
        '[plugins."io.containerd.internal.v1.opt"]',
        `  path = ${JSON.stringify(join(this.dir, "opt"))}`,
        "",
      ].join("\n"),
    );
    this.daemon = new Background(["containerd", "--config", config], join(this.dir, "containerd.log"));
    const daemon = this.daemon;
    await waitFor(
      () => {
        if (!daemon.running) throw new Error(`containerd exited ${daemon.exitCode}:\n${daemon.output().slice(-2000)}`);
        return this.ctr(["version"]).status === 0 ? true : undefined;
      },
      20_000,
      () => `containerd did not answer on ${this.socket}:\n${daemon.output().slice(-2000)}`,
    );
  }

  ctrArgv(args: string[]): string[] {
    return ["ctr", "-a", this.socket, "-n", this.namespace, ...args];
  }

  ctr(args: string[], timeoutMs = 30_000): Cmd {
    return sh(this.ctrArgv(args), { timeoutMs });
  }

  importImage(ociTar: string): void {
    must(this.ctrArgv(["image", "import", ociTar]));
  }

  /** The full id ctr hands the CNI plugin as CNI_CONTAINERID. */
  cniContainerId(name: string): string {
    return `${this.namespace}-${name}`;
  }

  /**
   * `ctr run --rm --cni` in the background, from the node netns and with the node's CNI
   * dirs in place. ctr calls ADD before starting the task, and DEL once the task exits.
   */
  runWithCni(name: string, image: string, command: string[], nodeNetns: string, cni: NodeCni): Background {
    const scratch = join(this.dir, `mounts-${name}`);
    mkdirSync(scratch, { recursive: true });
    const argv = inNetns(nodeNetns, [
      "unshare",
      "-m",
      "--propagation",
      "private",
      "sh",
      this.script,
      cni.confDir,
      cni.binDir,
      scratch,
      ...this.ctrArgv(["run", "--rm", "--cni", "--fifo-dir", this.fifoDir, image, name, ...command]),
    ]);
    const run = new Background(argv, join(this.dir, `run-${name}.log`));
    this.runs.set(name, run);
    return run;
  }

  taskStatus(name: string): string | undefined {
    const res = this.ctr(["task", "ls"]);
    const line = res.stdout.split("\n").find((l) => l.split(/\s+/)[0] === name);
    return line?.split(/\s+/)[2];
  }

  /** Waits until the task runs (ctr has done ADD by then); fails with ctr's output if it quit. */
  async waitRunning(name: string): Promise<void> {
    const run = this.runs.get(name);
    await waitFor(
      () => {
        if (run && !run.running)
          throw new Error(`ctr run ${name} exited ${run.exitCode}:\n${run.output().slice(-2000)}`);
        return this.taskStatus(name) === "RUNNING" ? true : undefined;
      },
      30_000,
      () => `task ${name} is ${this.taskStatus(name) ?? "absent"}; ctr run said:\n${run?.output().slice(-2000) ?? ""}`,
    );
  }

  exec(name: string, command: string[]): Cmd {
    return this.ctr([
      "task",
      "exec",
      "--exec-id",
      `pnrt-exec-${++this.execs}`,
      "--fifo-dir",
      this.fifoDir,
      name,
      ...command,
    ]);
  }

  /** Kills the task and waits for `ctr run --rm` to tear down the network and container. */
  async stopContainer(name: string, timeoutMs = 20_000): Promise<number> {
    const run = this.runs.get(name);
    if (!run) throw new Error(`no ctr run for ${name}`);
    const kill = this.ctr(["task", "kill", "-s", "SIGKILL", name]);
    if (kill.status !== 0 && run.running)
      throw new Error(describeCmd(this.ctrArgv(["task", "kill", "-s", "SIGKILL", name]), kill));
    const code = await within(run.exited, timeoutMs, -1);
    if (code === -1)
      throw new Error(
        `ctr run ${name} did not exit ${timeoutMs} ms after its task was killed:\n${run.output().slice(-2000)}`,
      );
    return code;
  }

  containerExists(name: string): boolean {
    return this.ctr(["container", "ls", "-q"]).stdout.split("\n").includes(name);
  }

  /** Removes tasks, containers, the daemon and its shims; returns problems rather than throwing. */
  async destroy(): Promise<string[]> {
    const errors: string[] = [];
    if (this.daemon?.running) {
      for (const [name, run] of this.runs) {
        if (run.running) {
          this.ctr(["task", "kill", "-s", "SIGKILL", name]);
          await within(run.exited, 10_000, -1);
          if (run.running) {
            errors.push(`ctr run ${name} still running; stopping it`);
            await run.stop();
          }
        }
        this.ctr(["task", "rm", "-f", name]);
        if (this.containerExists(name)) {
          const rm = this.ctr(["container", "rm", name]);
          if (rm.status !== 0) errors.push(describeCmd(this.ctrArgv(["container", "rm", name]), rm));
        }
      }
    }
    await this.daemon?.stop();
    for (const pid of this.shimPids()) {
      errors.push(`killing leftover shim ${pid}`);
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // gone meanwhile
      }
    }
    errors.push(...unmountBelow(this.dir));
    return errors;
  }

  /** Shims serving our daemon (their command line names our socket). */
  private shimPids(): number[] {
    const pids: number[] = [];
    for (const entry of readdirSync("/proc")) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
        if (cmdline[0]?.includes("containerd-shim") && cmdline.includes(this.socket)) pids.push(Number(entry));
      } catch {
        // exited while we looked
      }
    }
    return pids;
  }

  /** What this daemon leaves in shared dirs for our namespace. */
  sharedEntries(): string[] {
    return [
      join("/run/containerd/runc", this.namespace),
      ...[...this.runs.keys()].map((name) => join("/var/lib/cni/results", `podnet-${this.cniContainerId(name)}-eth0`)),
    ].filter((p) => existsSync(p));
  }
}
