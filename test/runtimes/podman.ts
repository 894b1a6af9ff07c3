// podman 4 with its CNI backend, confined to a temp dir: its own --root/--runroot, a
// containers.conf pointing at our conflist and bin dir, and every call made from the
// node netns with nsenter (not `ip netns exec`: its private mount namespace remounts
// /sys, so runc finds no cgroup mount, and podman's netns bind mounts would not be seen
// by later podman calls).
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { NodeCni } from "./cni";
import { type Cmd, describeCmd, inNetns, sh, unmountBelow } from "./host";

export interface PodmanContainer {
  name: string;
  id: string;
  /** The netns podman made for it (/run/netns/netns-<uuid>). */
  sandboxKey: string;
}

export class Podman {
  private readonly root: string;
  private readonly runroot: string;
  private readonly conf: string;
  readonly containers = new Map<string, PodmanContainer>();

  constructor(
    private readonly dir: string,
    private readonly nodeNetns: string,
    cni: NodeCni,
  ) {
    this.root = join(dir, "root");
    this.runroot = join(dir, "runroot");
    const tmp = join(dir, "tmp");
    for (const d of [this.root, this.runroot, tmp]) mkdirSync(d, { recursive: true });
    this.conf = join(dir, "containers.conf");
    writeFileSync(
      this.conf,
      [
        "[containers]",
        // root here cannot raise RLIMIT_NOFILE to podman's default.
        'default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]',
        "[network]",
        'network_backend = "cni"',
        `cni_plugin_dirs = [${JSON.stringify(cni.binDir)}]`,
        `network_config_dir = ${JSON.stringify(cni.confDir)}`,
        "[engine]",
        'cgroup_manager = "cgroupfs"',
        // crun fails here: "cgroups in hybrid mode not supported".
        'runtime = "runc"',
        'events_logger = "none"',
        `tmp_dir = ${JSON.stringify(tmp)}`,
        "",
      ].join("\n"),
    );
  }

  argv(args: string[]): string[] {
    return inNetns(this.nodeNetns, [
      "podman",
      "--root",
      this.root,
      "--runroot",
      this.runroot,
      "--storage-driver",
      "vfs",
      ...args,
    ]);
  }

  run(args: string[], timeoutMs = 60_000): Cmd {
    return sh(this.argv(args), { env: { CONTAINERS_CONF: this.conf }, timeoutMs });
  }

  must(args: string[], timeoutMs = 60_000): string {
    const res = this.run(args, timeoutMs);
    if (res.status !== 0) throw new Error(describeCmd(this.argv(args), res));
    return res.stdout;
  }

  importImage(rootfsTar: string, ref: string): void {
    this.must(["import", rootfsTar, ref]);
  }

  /** `podman run -d` on the network; records the id and netns so cleanup finds them. */
  runDetached(name: string, image: string, command: string[], options: string[] = []): PodmanContainer {
    const res = this.run(["run", "-d", "--name", name, "--network", "podnet", ...options, image, ...command]);
    // Record whatever exists, even after a failed start, so destroy() removes it.
    const id = this.run(["inspect", "--format", "{{.Id}}", name]).stdout.trim();
    const sandboxKey = this.run(["inspect", "--format", "{{.NetworkSettings.SandboxKey}}", name]).stdout.trim();
    if (id) this.containers.set(name, { name, id, sandboxKey });
    if (res.status !== 0) throw new Error(describeCmd(this.argv(["run", "-d", "--name", name, "..."]), res));
    const container = this.containers.get(name);
    if (!container) throw new Error(`podman run ${name} succeeded but inspect finds no container`);
    return container;
  }

  exec(name: string, command: string[]): Cmd {
    return this.run(["exec", name, ...command], 30_000);
  }

  rm(names: string[]): void {
    this.must(["rm", "-f", "-t", "0", ...names]);
  }

  /**
   * Removes every container (podman tears down their networks: CNI DEL), then anything
   * podman left of ours outside the temp dir; returns problems rather than throwing.
   */
  destroy(): string[] {
    const errors: string[] = [];
    const all = this.run(["ps", "-aq"]);
    if (all.status === 0 && all.stdout.trim()) {
      const res = this.run(["rm", "-f", "-t", "0", ...all.stdout.trim().split("\n")]);
      if (res.status !== 0) errors.push(describeCmd(["podman", "rm", "-f", "..."], res));
    }
    for (const c of this.containers.values()) {
      if (c.sandboxKey && existsSync(c.sandboxKey)) {
        errors.push(`podman left ${c.sandboxKey} of ${c.name}; removing it`);
        sh(["umount", c.sandboxKey]);
        sh(["rm", "-f", c.sandboxKey]);
      }
    }
    errors.push(...unmountBelow(this.dir));
    return errors;
  }

  /** Entries podman/runc keep for our containers in shared dirs (normally gone after rm). */
  sharedEntries(): string[] {
    return [...this.containers.values()].flatMap((c) => [
      join("/run/runc", c.id),
      join("/var/lib/cni/results", `podnet-${c.id}-eth0`),
    ]);
  }
}
