// A stand-in for a node, to run the bootstrap scripts here exactly as rendered: stub
// kubeadm and kubectl (test/pulumi/stubs/) that keep a fake cluster in a temp directory,
// sudo as a pass-through and sleep as a no-op, all on PATH through test/helpers/stubs.ts,
// which logs every call; the node's /etc/kubernetes and /var/lib/etcd move under a temp
// root (the only change made to a script). The stubs follow kubeadm's rules: init refuses
// leftovers, each phase leaves its artefacts, reset removes them; kubectl answers only
// while the API server is "up".
import * as fs from "node:fs";
import * as path from "node:path";
import { Stubs } from "../helpers/stubs";

export interface Ran {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export class FakeNode {
  private readonly stubs = new Stubs()
    .add("kubeadm", `exec bash ${path.join(__dirname, "stubs", "kubeadm")} "$@"`)
    .add("kubectl", `exec bash ${path.join(__dirname, "stubs", "kubectl")} "$@"`)
    .add("sudo", 'exec "$@"')
    .add("sleep");
  readonly root = path.join(this.stubs.dir, "root");
  /** The fake cluster: objects/, nodes/, tokens, and api-up while the API server answers. */
  readonly state = path.join(this.stubs.dir, "state");

  constructor() {
    for (const dir of [this.root, path.join(this.state, "objects"), path.join(this.state, "nodes")])
      fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(this.state, "tokens"), "");
  }

  /** A path on the node, under the fake root. */
  file(nodePath: string): string {
    return path.join(this.root, nodePath);
  }

  /** Runs a script (a bash script, or the sh wrapper remoteScript makes) as the node would. */
  run(script: string, options: { stdin?: string; env?: Record<string, string> } = {}): Ran {
    const moved = script
      .replaceAll("/etc/kubernetes", this.file("/etc/kubernetes"))
      .replaceAll("/var/lib/etcd", this.file("/var/lib/etcd"));
    const env = { PODNET_FAKE_STATE: this.state, PODNET_FAKE_ROOT: this.root, ...options.env };
    const result = this.stubs.bash(["-c", moved], env, options.stdin ?? "");
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  }

  /** Every kubeadm/kubectl call so far ("kubeadm init ..."), in order. */
  calls(): string[] {
    return this.stubs.calls().filter((c) => /^kube(adm|ctl) /.test(c));
  }

  clearCalls(): void {
    fs.rmSync(path.join(this.stubs.dir, "calls.log"), { force: true });
  }

  has(stateFile: string): boolean {
    return fs.existsSync(path.join(this.state, stateFile));
  }

  read(stateFile: string): string {
    return fs.readFileSync(path.join(this.state, stateFile), "utf8");
  }

  cleanup(): void {
    this.stubs.cleanup();
  }
}
