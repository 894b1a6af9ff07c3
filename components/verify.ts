// The last step of `pulumi up`: the table of checks the lab proves (model/checkTable.ts),
// run on the real cluster by the control plane itself (verify/), over the bootstrap's SSH
// connection with the admin kubeconfig there, so it needs nothing on the user's machine.
//
// It runs once every node has joined and reported Ready (kubeadm init and every worker's
// register command), and again whenever the node set changes (every instance id is a
// trigger) or the verifier does (its bundle is the command's stdin). Each run removes its
// namespace, also when a check fails. The result is the stack output `connectivity`.
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { type Connectivity, connectivityOf } from "../verify/node";
import { remoteVerifyCommand, verifierBundle } from "../verify/remote";
import type { VerifyMode } from "./config";
import type { ClusterNode } from "./nodes";

export interface ConnectivityArgs {
  /** The SSH connection to the control plane: the one the bootstrap's commands use. */
  readonly connection: command.types.input.remote.ConnectionArgs;
  /** Every node. Their instance ids are the triggers; their public IPs are what the internet row must see. */
  readonly nodes: readonly ClusterNode[];
  /** Must have finished first: kubeadm init and every worker's registration (joined, Ready). */
  readonly ready: readonly pulumi.Resource[];
  readonly mode: VerifyMode;
}

/** The stack output: the lab's report of the run, and the mode it ran in. */
export type ConnectivityOutput = Connectivity & { readonly mode: VerifyMode };

/** The output when podnet:verify is off: says so, and how to run the checks anyway. */
export function offOutput(): ConnectivityOutput {
  const report = connectivityOf({
    ok: false,
    runId: "",
    namespace: "",
    nodes: [],
    rows: [],
    failures: [],
    cleanup: "nothing created",
    ms: 0,
  });
  return {
    ...report,
    mode: "off",
    summary: "not run: podnet:verify is off (npm run verify runs the checks on demand)",
  };
}

/** Reads the verifier's stdout (one JSON line); anything else is a clear error, not a silent pass. */
export function parseConnectivity(stdout: string, mode: VerifyMode): ConnectivityOutput {
  const line = stdout.trim().split("\n").at(-1) ?? "";
  let value: Connectivity;
  try {
    value = JSON.parse(line) as Connectivity;
  } catch {
    throw new Error(
      `the verifier printed no report on the control plane (stdout: ${JSON.stringify(line.slice(0, 200))}); see the command's log`,
    );
  }
  if (typeof value.ok !== "boolean" || !Array.isArray(value.rows)) throw new Error("the verifier's report has no rows");
  return { ...value, mode };
}

export class ConnectivityCheck extends pulumi.ComponentResource {
  /** Absent when podnet:verify is off. */
  readonly command?: command.remote.Command;
  readonly connectivity: pulumi.Output<ConnectivityOutput>;

  constructor(name: string, args: ConnectivityArgs, opts?: pulumi.ComponentResourceOptions) {
    super("podnet:aws:ConnectivityCheck", name, {}, opts);
    const mode = args.mode;
    if (mode === "off") {
      this.connectivity = pulumi.output(offOutput());
    } else {
      const publicIps = pulumi.all(args.nodes.map((n) => n.publicIp.apply((ip) => [n.plan.name, ip] as const)));
      this.command = new command.remote.Command(
        `${name}-verify`,
        {
          connection: args.connection,
          create: publicIps.apply((ips) => remoteVerifyCommand({ mode, publicIps: ips })),
          stdin: verifierBundle(),
          triggers: args.nodes.map((n) => n.instance.id),
          // stdout is the report (the output below); stderr is the progress and the table.
          logging: "stderr",
          addPreviousOutputInEnv: false,
        },
        { parent: this, dependsOn: [...args.ready] },
      );
      this.connectivity = this.command.stdout.apply((stdout) => parseConnectivity(stdout, mode));
    }
    this.registerOutputs({ connectivity: this.connectivity });
  }
}
