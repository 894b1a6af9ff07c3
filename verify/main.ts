// `npm run verify`: the checks `pulumi up` ends with, on demand, against a stack's cluster.
// Exit status: 0 every check passed (or --mode report), 1 a check failed or could not run,
// 2 bad usage.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SSH_USER } from "../components/nodes";
import { styleFor } from "../lab/report";
import { newRunId } from "./cluster";
import { type Kubectl, processKubectl } from "./kubectl";
import {
  type CommonFlags,
  type Connectivity,
  cleanupOnInterrupt,
  connectivityOf,
  type FailMode,
  takeCommonFlag,
} from "./node";
import { remoteVerifyCommand, verifierBundle } from "./remote";
import { renderReport, verifyCluster } from "./run";

export const USAGE = `usage: npm run verify -- [--stack NAME] [--kubeconfig FILE | --ssh] [--mode fail|report]
                         [--public-ip NODE=IP]... [--parallel N] [--keep] [--wide] [--json FILE]

Runs the lab's table of checks against a stack's cluster, as \`pulumi up\` does at its end:
test pods on every node, then pod to pod, node to pod, hostPort, Services, hairpin, cluster
DNS and the internet, each judged by what the far end saw. Removes its namespace when done.

  (default)          kubectl here, with the stack's kubeconfig output and its nodes' public IPs
                     (pulumi stack output --show-secrets; the kubeconfig is removed afterwards)
  --kubeconfig FILE  kubectl here with this kubeconfig; no Pulumi needed. Public IPs come from
                     --public-ip, else from each node's own view (its host pod asks checkip)
  --ssh              on the control plane over SSH, as pulumi up runs it (its admin kubeconfig);
                     needs only ssh here and the stack's sshPrivateKey output
  --stack NAME       the Pulumi stack (default: the selected one)
  --mode report      exit 0 even when a check fails (default fail: exit 1)
  --public-ip N=IP   the public IP node N's pods must be seen from on the internet (repeatable)
  --parallel N       kubectl exec calls at once (default 6)
  --keep             leave the test namespace (podnet-verify-<run>) for inspection
  --wide             print every column of the table at full length (expected, seen)
  --json FILE        also write the report (every row: group, from, to, expect, seen, ok, ms)`;

export interface Cli {
  readonly command: "run" | "help";
  readonly source: "stack" | "kubeconfig" | "ssh";
  readonly stack?: string;
  readonly kubeconfig?: string;
  readonly mode: FailMode;
  readonly publicIps: Map<string, string>;
  readonly parallel?: number;
  readonly keep: boolean;
  readonly wide: boolean;
  readonly json?: string;
}

export function parseArgs(argv: readonly string[]): Cli {
  const common: CommonFlags = {
    publicIps: new Map<string, string>(),
    mode: "fail",
    parallel: undefined,
    keep: false,
    wide: false,
  };
  let source: Cli["source"] = "stack";
  let stack: string | undefined;
  let kubeconfig: string | undefined;
  let json: string | undefined;
  const value = (i: number, flag: string): string => {
    const v = argv[i + 1];
    if (v === undefined || v.startsWith("--")) throw new Error(`${flag} needs a value`);
    return v;
  };
  for (let i = 0; i < argv.length; ) {
    const arg = argv[i];
    if (arg === "--help" || arg === "-h" || arg === "help") return { command: "help", source, ...common };
    const next = takeCommonFlag(argv, i, common);
    if (next !== undefined) {
      i = next;
      continue;
    }
    if (arg === "--ssh") {
      if (source === "kubeconfig") throw new Error("--ssh and --kubeconfig: choose one");
      source = "ssh";
      i += 1;
    } else if (arg === "--kubeconfig" || arg === "--stack" || arg === "--json") {
      const v = value(i, arg);
      if (arg === "--kubeconfig") {
        if (source === "ssh") throw new Error("--ssh and --kubeconfig: choose one");
        source = "kubeconfig";
        kubeconfig = v;
      } else if (arg === "--stack") stack = v;
      else json = v;
      i += 2;
    } else {
      throw new Error(`unknown argument ${arg}`);
    }
  }
  if (source === "kubeconfig" && stack)
    throw new Error("--stack reads the kubeconfig from the stack; drop --kubeconfig, or --stack");
  return { command: "run", source, stack, kubeconfig, json, ...common };
}

/** The outputs of `pulumi stack output --json --show-secrets` this command uses. */
export interface StackOutputs {
  readonly kubeconfig?: string;
  readonly sshPrivateKey?: string;
  readonly controlPlanePublicIp?: string;
  readonly nodes?: ReadonlyArray<{ name: string; publicIp: string }>;
}

export interface Tools {
  /** `pulumi <args>`: status and output. */
  pulumi(args: readonly string[]): { status: number | null; stdout: string; stderr: string; error?: Error };
  /** kubectl with a kubeconfig file. */
  kubectl(kubeconfig: string): Kubectl;
  /** `ssh <args>` with stdin; stderr passes through; resolves to its status and stdout. */
  ssh(args: readonly string[], stdin: string): Promise<{ status: number; stdout: string }>;
}

export const processTools: Tools = {
  pulumi: (args) => spawnSync("pulumi", args, { encoding: "utf8", maxBuffer: 64 << 20 }),
  kubectl: (kubeconfig) => processKubectl({ kubeconfig }),
  ssh: (args, stdin) =>
    new Promise((resolve) => {
      const child = spawn("ssh", args, { stdio: ["pipe", "pipe", "inherit"] });
      let stdout = "";
      child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
      child.on("error", (e) => resolve({ status: 255, stdout: `ssh: ${e.message}` }));
      child.on("close", (code) => resolve({ status: code ?? 255, stdout }));
      child.stdin.end(stdin);
    }),
};

export function readStack(tools: Tools, stack: string | undefined): StackOutputs {
  const r = tools.pulumi(["stack", "output", "--json", "--show-secrets", ...(stack ? ["--stack", stack] : [])]);
  if ((r.error as NodeJS.ErrnoException | undefined)?.code === "ENOENT") {
    throw new Error("pulumi is not installed here: install it, or run with --kubeconfig FILE");
  }
  if (r.status !== 0)
    throw new Error(
      `pulumi stack output failed: ${r.stderr.trim() || r.stdout.trim()} (select the stack with --stack NAME)`,
    );
  return JSON.parse(r.stdout) as StackOutputs;
}

function publicIpsOf(outputs: StackOutputs, given: ReadonlyMap<string, string>): Map<string, string> {
  const ips = new Map((outputs.nodes ?? []).map((n) => [n.name, n.publicIp] as const));
  for (const [node, ip] of given) ips.set(node, ip);
  return ips;
}

function need<T>(value: T | undefined, output: string): T {
  if (value === undefined || value === "") throw new Error(`the stack has no ${output} output: run pulumi up first`);
  return value;
}

/** Over SSH on the control plane: the stack's own command, the verifier on stdin. */
async function viaSsh(tools: Tools, outputs: StackOutputs, cli: Cli, dir: string): Promise<Connectivity> {
  const key = join(dir, "id");
  writeFileSync(key, need(outputs.sshPrivateKey, "sshPrivateKey"), { mode: 0o600 });
  const host = need(outputs.controlPlanePublicIp, "controlPlanePublicIp");
  // Always report mode on the node, so the report comes back whatever happened; --mode decides here.
  const command = remoteVerifyCommand({
    mode: "report",
    publicIps: [...publicIpsOf(outputs, cli.publicIps)],
    parallel: cli.parallel,
    keep: cli.keep,
    wide: cli.wide,
  });
  const args = [
    "-i",
    key,
    "-o",
    "IdentitiesOnly=yes",
    "-o",
    "BatchMode=yes",
    "-o",
    "StrictHostKeyChecking=accept-new",
    `${SSH_USER}@${host}`,
    command,
  ];
  const r = await tools.ssh(args, verifierBundle());
  const line = r.stdout.trim().split("\n").at(-1) ?? "";
  if (r.status !== 0 || !line.startsWith("{"))
    throw new Error(
      `ssh ${SSH_USER}@${host} failed (exit ${r.status}); podnet:adminCidrs must include this machine's address`,
    );
  return JSON.parse(line) as Connectivity;
}

export async function main(argv: readonly string[], tools: Tools = processTools): Promise<number> {
  let cli: Cli;
  try {
    cli = parseArgs(argv);
  } catch (e) {
    console.error(`verify: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (cli.command === "help") {
    console.log(USAGE);
    return 0;
  }
  const dir = mkdtempSync(join(tmpdir(), "podnet-verify-"));
  try {
    let result: Connectivity;
    if (cli.source === "ssh") {
      result = await viaSsh(tools, readStack(tools, cli.stack), cli, dir);
      console.log(result.summary);
    } else {
      const outputs = cli.source === "stack" ? readStack(tools, cli.stack) : {};
      let kubeconfig = cli.kubeconfig;
      if (!kubeconfig) {
        kubeconfig = join(dir, "kubeconfig");
        writeFileSync(kubeconfig, need(outputs.kubeconfig, "kubeconfig"), { mode: 0o600 });
      }
      const kubectl = tools.kubectl(kubeconfig);
      const runId = newRunId();
      const uninstall = cleanupOnInterrupt(
        kubectl,
        runId,
        (l) => console.error(l),
        () => rmSync(dir, { recursive: true, force: true }),
      );
      const report = await verifyCluster({
        kubectl,
        runId,
        publicIps: publicIpsOf(outputs, cli.publicIps),
        parallel: cli.parallel,
        keep: cli.keep,
        log: (l) => console.error(l),
      }).finally(uninstall);
      console.log(renderReport(report, styleFor(process.stdout, cli.wide)));
      result = connectivityOf(report);
    }
    if (cli.json) writeFileSync(cli.json, `${JSON.stringify(result, null, 2)}\n`);
    return result.ok || cli.mode === "report" ? 0 : 1;
  } catch (e) {
    console.error(`verify: ${(e as Error).message}`);
    return 1;
  } finally {
    // The kubeconfig and the SSH key never outlive the run.
    rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      console.error(`verify: ${(e as Error).stack ?? String(e)}`);
      process.exit(1);
    },
  );
}
