// What the lab needs on this machine before it builds anything: root, the node's tools, the
// reference plugins the conflist chains, and a dist/podnet at least as new as cni/*.ts.
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import type { LabOptions } from "./labPlan";
import { runSync } from "./sh";

/** The bundled plugin `npm run build` makes. */
export function bundlePath(): string {
  return join(__dirname, "..", "dist", "podnet");
}

/** What is missing, each with the command that fixes it; empty when the lab can start. */
export function preflight(options: LabOptions): string[] {
  const problems: string[] = [];
  if (process.getuid?.() !== 0)
    problems.push("the lab creates network namespaces: run it as root (in a root shell, or sudo npm run lab)");
  const tools: Array<[string, string]> = [
    ["ip", "iproute2"],
    ["nsenter", "util-linux"],
    ["iptables", "iptables"],
    ["iptables-restore", "iptables"],
    ["ping", "iputils-ping"],
    ["ss", "iproute2"],
    // a pod's resolv.conf in its own mount namespace, and lookups through the pod's libc
    ["unshare", "util-linux"],
    ["mount", "mount"],
    ["getent", "libc-bin"],
  ];
  if (options.iperfSeconds > 0) tools.push(["iperf3", "iperf3"]);
  for (const [tool, pkg] of tools) {
    if (runSync(["sh", "-c", `command -v ${tool}`]).status !== 0)
      problems.push(`${tool} is missing: apt-get install ${pkg} (scripts/setup.sh does)`);
  }
  for (const plugin of ["portmap", "loopback"]) {
    if (!existsSync(`/usr/lib/cni/${plugin}`))
      problems.push(`/usr/lib/cni/${plugin} is missing: apt-get install containernetworking-plugins`);
  }
  const bundle = bundlePath();
  if (!existsSync(bundle)) {
    problems.push(`${bundle} is missing: run npm run build (npm run lab does)`);
  } else {
    const cniDir = join(__dirname, "..", "cni");
    const newest = readdirSync(cniDir)
      .filter((f) => f.endsWith(".ts"))
      .reduce((m, f) => Math.max(m, statSync(join(cniDir, f)).mtimeMs), 0);
    if (newest > statSync(bundle).mtimeMs)
      problems.push(`${bundle} is older than cni/*.ts: run npm run build (npm run lab does)`);
  }
  return problems;
}
