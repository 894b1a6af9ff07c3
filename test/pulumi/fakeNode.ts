// A stand-in for a node, to run the bootstrap scripts here exactly as rendered: stub
// kubeadm/kubectl/sudo/sleep on PATH that keep a fake cluster in a temp directory, and the
// node's /etc/kubernetes and /var/lib/etcd moved under a temp root (the only change made to
// the script). The stubs' rules follow kubeadm's: init refuses leftovers, each phase leaves
// its artefacts, reset removes them; kubectl answers only while the API server is "up".
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";


export interface Ran {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export class FakeNode {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), "podnet-fake-node-"));
  readonly root = path.join(this.dir, "root");
  readonly state = path.join(this.dir, "state");
  private readonly bin = path.join(this.dir, "bin");

  constructor() {
    for (const dir of [this.root, this.bin, path.join(this.state, "objects"), path.join(this.state, "nodes")]) fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(this.state, "tokens"), "");
    fs.writeFileSync(path.join(this.state, "calls"), "");
    const stubs: Record<string, string> = {
      kubeadm: fs.readFileSync(path.join(__dirname, "stubs", "kubeadm"), "utf8"),
      kubectl: fs.readFileSync(path.join(__dirname, "stubs", "kubectl"), "utf8"),
      sudo: '#!/bin/sh\nexec "$@"\n',
      sleep: "#!/bin/sh\nexit 0\n",
    };
    for (const [name, body] of Object.entries(stubs)) fs.writeFileSync(path.join(this.bin, name), body, { mode: 0o755 });
  }

  /** A path on the node, under the fake root. */
  file(nodePath: string): string {
    return path.join(this.root, nodePath);
  }

  /** Runs a script (bash, or a remoteScript wrapper under sh) as the node would. */
  run(script: string, options: { shell?: "bash" | "sh"; stdin?: string; env?: Record<string, string> } = {}): Ran {
    const moved = script.replaceAll("/etc/kubernetes", this.file("/etc/kubernetes")).replaceAll("/var/lib/etcd", this.file("/var/lib/etcd"));
    const result = spawnSync(options.shell ?? "bash", ["-c", moved], {
      encoding: "utf8",
      input: options.stdin ?? "",
      env: { ...process.env, PATH: `${this.bin}:${process.env.PATH}`, PODNET_FAKE_STATE: this.state, PODNET_FAKE_ROOT: this.root, ...options.env },
    });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  }

  /** Every kubeadm/kubectl invocation so far, one line each. */
  calls(): string[] {
    return fs.readFileSync(path.join(this.state, "calls"), "utf8").split("\n").filter(Boolean);
  }

  clearCalls(): void {
    fs.writeFileSync(path.join(this.state, "calls"), "");
  }

  has(stateFile: string): boolean {
    return fs.existsSync(path.join(this.state, stateFile));
  }

  read(stateFile: string): string {
    return fs.readFileSync(path.join(this.state, stateFile), "utf8");
  }

  cleanup(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
