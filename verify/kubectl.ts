// kubectl as the verification's only way into the cluster: on the control plane with the
// admin kubeconfig (the stack), or on the user's machine with the stack's kubeconfig
// (`npm run verify`). Behind an interface so the driver runs on recorded answers in tests.
import { spawn } from "node:child_process";

export interface KubectlResult {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface Kubectl {
  /** Runs kubectl with these arguments; never throws for a non-zero exit. */
  run(args: readonly string[], options?: { stdin?: string; timeoutMs?: number }): Promise<KubectlResult>;
}

/** The first useful line of kubectl's complaint, for a table cell or an error. */
export function firstLine(text: string): string {
  return (
    text
      .split("\n")
      .map((l) => l.trim())
      .find((l) => l !== "") ?? ""
  ).slice(0, 200);
}

/** Runs kubectl and insists on success: the error names the command and what kubectl said. */
export async function must(
  kubectl: Kubectl,
  args: readonly string[],
  options?: { stdin?: string; timeoutMs?: number },
): Promise<string> {
  const r = await kubectl.run(args, options);
  if (r.status !== 0)
    throw new Error(
      `kubectl ${args.join(" ")} failed (exit ${r.status}): ${firstLine(r.stderr) || firstLine(r.stdout)}`,
    );
  return r.stdout;
}

export interface KubectlOptions {
  /** kubectl binary; default "kubectl" on PATH. */
  readonly binary?: string;
  /** Kubeconfig file; default kubectl's own ($KUBECONFIG, ~/.kube/config). */
  readonly kubeconfig?: string;
}

/** The real kubectl, one process per call, killed at its timeout. */
export function processKubectl(options: KubectlOptions = {}): Kubectl {
  const binary = options.binary ?? "kubectl";
  const base = options.kubeconfig ? [`--kubeconfig=${options.kubeconfig}`] : [];
  return {
    run(args, runOptions = {}) {
      return new Promise((resolve) => {
        const child = spawn(binary, [...base, ...args], { stdio: ["pipe", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        const timer = setTimeout(() => child.kill("SIGKILL"), runOptions.timeoutMs ?? 60_000);
        child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
        child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
        child.on("error", (e: NodeJS.ErrnoException) => {
          clearTimeout(timer);
          const hint =
            e.code === "ENOENT"
              ? `${binary} is not installed or not on PATH (install kubectl, or run with --ssh)`
              : e.message;
          resolve({ status: 127, stdout, stderr: hint });
        });
        child.on("close", (code, signal) => {
          clearTimeout(timer);
          resolve({ status: code ?? 128, stdout, stderr: signal ? `${stderr}killed by ${signal} (timeout)` : stderr });
        });
        child.stdin.on("error", () => undefined);
        child.stdin.end(runOptions.stdin ?? "");
      });
    },
  };
}
