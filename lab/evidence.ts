// What a failed lab run keeps after its teardown: the lab still removes every namespace
// and its run dir, but first copies the evidence a person needs to find out why into a
// directory of its own, which it names at the end. It holds:
//   report.json, failed-rows.txt   written by the CLI (lab/main.ts)
//   nodes/<node>/podnet.log        the plugin's log on that node, one JSON line per call
//   nodes/<node>/cni-calls.log     every plugin call the lab's runtime made on that node
//   nodes/<node>/net.d/, ipam/     the node's conflist and its IPAM store
//   nodes/<node>/network.txt       addresses, links, routes and iptables-save of the node
//   router.txt                     the VPC router's addresses and routes
//   state.json                     the lab's own record of what it made
import { cpSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runDirOf } from "./labPlan";
import { runSync } from "./sh";

/** Where a failed run with this prefix keeps its evidence: one new directory per run. */
export const EVIDENCE_ROOT = "/var/log/podnet-lab";

export function evidenceDirFor(prefix: string, when = new Date()): string {
  const stamp = when
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
  return join(EVIDENCE_ROOT, `${prefix}-${stamp}`);
}

/** The output of commands run in a namespace, each under a header; failures are recorded, not thrown. */
function dump(netns: string, commands: string[][]): string {
  return commands
    .map((cmd) => {
      const ran = runSync(["ip", "netns", "exec", netns, ...cmd]);
      return `### ${cmd.join(" ")}${ran.status === 0 ? "" : ` (exit ${ran.status})`}\n${ran.stdout}${ran.stderr}`;
    })
    .join("\n");
}

const NODE_COMMANDS = [
  ["ip", "-d", "addr"],
  ["ip", "route"],
  ["ip", "-d", "link", "show", "type", "bridge"],
  ["iptables-save"],
];

/**
 * Copies a lab's evidence into `dir` while its namespaces still exist. Never throws:
 * what cannot be copied is listed in the returned problems.
 */
export function collectEvidence(prefix: string, namespaces: readonly string[], dir: string): string[] {
  const problems: string[] = [];
  const attempt = (what: string, fn: () => void) => {
    try {
      fn();
    } catch (e) {
      problems.push(`evidence: ${what}: ${(e as Error).message}`);
    }
  };
  attempt(`mkdir ${dir}`, () => mkdirSync(dir, { recursive: true, mode: 0o755 }));
  const runDir = runDirOf(prefix);
  const nodesDir = join(runDir, "nodes");
  if (existsSync(nodesDir))
    attempt("copy the nodes' logs and stores", () => cpSync(nodesDir, join(dir, "nodes"), { recursive: true }));
  if (existsSync(join(runDir, "state.json")))
    attempt("copy state.json", () => cpSync(join(runDir, "state.json"), join(dir, "state.json")));
  for (const ns of namespaces) {
    const node = ns.slice(prefix.length + 1);
    if (/^(control-plane|worker-\d+)$/.test(node)) {
      attempt(`dump ${ns}`, () => {
        mkdirSync(join(dir, "nodes", node), { recursive: true });
        writeFileSync(join(dir, "nodes", node, "network.txt"), dump(ns, NODE_COMMANDS));
      });
    } else if (node === "router") {
      attempt(`dump ${ns}`, () =>
        writeFileSync(
          join(dir, "router.txt"),
          dump(ns, [
            ["ip", "addr"],
            ["ip", "route"],
          ]),
        ),
      );
    }
  }
  return problems;
}
