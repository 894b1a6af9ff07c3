// The lab, end to end: runs the real CLI (`node --import tsx lab/main.ts`, what
// `npm run lab` runs after building) with a prefix of its own, asserts that every check
// passed and that the run left nothing behind, in the lab's namespaces or in the host's.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { renderConflistJson } from "../cni/conflist";
import { planCluster } from "../cni/plan";
import { EVIDENCE_ROOT } from "../lab/evidence";
import type { LabReport } from "../lab/lab";
import { buildPlan, labNamespacePattern, planNamespaces, runDirOf } from "../lab/labPlan";
import { parseArgs } from "../lab/main";
import { checkSpec } from "../model/checkTable";

const ROOT = join(__dirname, "..");

function sh(cmd: string, args: string[]): string {
  const out = spawnSync(cmd, args, { encoding: "utf8" });
  if (out.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${out.stderr}`);
  return out.stdout;
}

/** The host's root network namespace, as far as the lab could have touched it. */
function hostSnapshot(): { links: string[]; rules: string[]; mounts: string[]; ipForward: string } {
  const links = (JSON.parse(sh("ip", ["-json", "link", "show"])) as Array<{ ifname: string }>).map((l) => l.ifname);
  const rules = sh("iptables-save", [])
    .split("\n")
    .filter((l) => /PODNET|LAB-|CNI-HOSTPORT|CNI-DN/.test(l));
  // The pods' resolv.conf is bind-mounted in private mount namespaces only, never in the host's.
  const mounts = readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .filter((l) => / \/etc\/resolv\.conf /.test(l) || l.includes("podnet-lab"));
  return { links, rules, mounts, ipForward: readFileSync("/proc/sys/net/ipv4/ip_forward", "utf8").trim() };
}

function runLab(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", "lab/main.ts", ...args], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

function count(report: LabReport, phase: string, group: string): number {
  return report.checks.filter((c) => c.phase === phase && c.group === group).length;
}

describe("lab plan and CLI", () => {
  it("builds the router's routes from planCluster and each node's conflist from renderConflistJson", () => {
    const plan = buildPlan({ prefix: "pnlabunit", workers: 3, keep: false, iperfSeconds: 0 });
    const nodes = planCluster({ clusterCidr: "10.244.0.0/16", nodeMaskSize: 24, workerCount: 3 });
    assert.deepEqual(
      plan.routes.map((r) => [r.destination, r.via, r.node]),
      nodes.map((n, i) => [n.podCidr, `10.0.1.${10 + i}`, n.name]),
    );
    for (const [i, node] of plan.nodes.entries()) {
      assert.equal(
        node.conflistJson,
        renderConflistJson(nodes[i], { clusterCidr: "10.244.0.0/16", dataDir: node.dataDir, logFile: node.logFile }),
      );
      assert.ok(node.dataDir.startsWith(`${runDirOf("pnlabunit")}/nodes/${node.name}/`));
    }
    assert.deepEqual(
      plan.pods.map((p) => `${p.name}@${p.netns}`),
      [1, 2, 3].flatMap((w) => [
        `web-worker-${w}@pnlabunit-worker-${w}-web`,
        `shell-worker-${w}@pnlabunit-worker-${w}-shell`,
        ...(w === 1 ? ["coredns-worker-1@pnlabunit-worker-1-dns"] : []),
      ]),
    );
    // kube-dns at kubeadm's address, backed by the stand-in for CoreDNS; the admin address is the lab's adminCidrs.
    assert.deepEqual(
      plan.services.map((s) => `${s.namespace}/${s.name} ${s.ip}:${s.port}/${s.protocol} -> ${s.endpoint}`),
      [
        "default/web 10.96.0.20:80/tcp -> web-worker-1",
        "default/echo 10.96.0.30:7/udp -> web-worker-1",
        "kube-system/kube-dns 10.96.0.10:53/udp -> coredns-worker-1",
      ],
    );
    assert.deepEqual(plan.adminCidrs, [`${plan.admin.ip}/32`]);
    const pattern = labNamespacePattern("pnlabunit");
    for (const ns of planNamespaces(plan)) assert.match(ns, pattern);
    assert.doesNotMatch("pnlabunitx-router", pattern);
    assert.doesNotMatch("pnt-worker-1", pattern);
  });

  it("parses the options and refuses bad ones with the fix", () => {
    assert.deepEqual(parseArgs(["--workers", "3", "--keep"]).options, {
      prefix: "pnlab",
      workers: 3,
      keep: true,
      iperfSeconds: 2,
    });
    assert.equal(parseArgs(["down", "--prefix=mine"]).command, "down");
    assert.throws(() => parseArgs(["--workers", "1"]), /--workers 1: use 2 to 16/);
    assert.throws(() => parseArgs(["--prefix", "pn-lab"]), /--prefix "pn-lab"/);
    assert.throws(() => parseArgs(["--bogus"]), /unknown argument --bogus/);
  });
});

describe("npm run lab, end to end @root", function () {
  this.timeout(180_000);
  const prefix = `pnle2e${randomBytes(2).toString("hex")}`;
  // In a directory of an ordinary user's, as `sudo npm run lab -- --json r.json` writes it.
  const reportDir = join(tmpdir(), `${prefix}-report`);
  const reportFile = join(reportDir, "report.json");

  after(() => {
    rmSync(reportDir, { recursive: true, force: true });
    // If an assertion failed half-way, leave nothing behind either.
    if (existsSync(runDirOf(prefix)) || sh("ip", ["netns", "list"]).includes(`${prefix}-`)) {
      spawnSync(process.execPath, ["--import", "tsx", "lab/main.ts", "down", "--prefix", prefix], { cwd: ROOT });
    }
  });

  it("brings the cluster network up, passes every check, and leaves nothing behind", async () => {
    if (process.getuid?.() !== 0) {
      assert.fail("the lab end-to-end test needs root (it creates network namespaces): run `sudo npm test`");
    }
    const before = hostSnapshot();
    const started = Date.now();
    mkdirSync(reportDir);
    chownSync(reportDir, 65534, 65534);
    const run = await runLab(["--prefix", prefix, "--iperf-seconds", "1", "--json", reportFile]);
    const elapsed = Date.now() - started;
    const output = `${run.stdout}\n${run.stderr}`;
    assert.equal(run.code, 0, `lab exited ${run.code}:\n${output.slice(-6000)}`);
    assert.match(run.stdout, /All \d+ checks passed\./);
    // The default output fits a 120-column terminal (no colour: stdout is a pipe here).
    const tooWide = `${run.stdout}\n${run.stderr}`.split("\n").filter((l) => l.length > 120);
    assert.deepEqual(tooWide, [], "every line of the default output fits 120 columns");
    assert.doesNotMatch(run.stdout, /\x1b\[/, "no colour when stdout is not a terminal");
    // A run that passed keeps no evidence.
    const kept = existsSync(EVIDENCE_ROOT) ? readdirSync(EVIDENCE_ROOT).filter((d) => d.startsWith(`${prefix}-`)) : [];
    assert.deepEqual(kept, []);

    const report = JSON.parse(readFileSync(reportFile, "utf8")) as LabReport;
    assert.equal(statSync(reportFile).uid, 65534, "the report belongs to the directory's owner, not root");
    assert.equal(report.ok, true);
    assert.equal(report.prefix, prefix);
    const failed = report.checks.filter((c) => !c.ok);
    // Every row the lab reported is one the table declares (model/checkTable.ts).
    for (const c of report.checks) checkSpec(c.group);
    assert.deepEqual(failed, [], `failed checks:\n${JSON.stringify(failed, null, 2)}`);

    // Every check ran, for every pod/node it applies to (2 workers, 5 pods: coredns-worker-1 too).
    const connectivity: Array<[string, number]> = [
      ["pod -> its gateway (ICMP)", 5],
      ["pod -> its gateway (TCP)", 5],
      ["pod -> pod, same node", 2],
      ["pod -> pod, other node", 2],
      ["pod -> internet (masqueraded)", 2],
      ["node -> pod, same node", 2],
      ["node -> pod, other node", 2],
      ["hostPort (portmap)", 2],
      ["service from pod, same node", 1],
      ["service from pod, other node", 1],
      ["service from a node (OUTPUT)", 1],
      ["service hairpin (backing pod)", 1],
      ["UDP service from pod, other node", 1],
      ["DNS: pod resolves a service (UDP)", 5],
      ["SSH and API server from admin", 2],
      ["SSH and API server from internet", 2],
      ["admin to another port", 1],
      ["CNI CHECK (conflist)", 5],
    ];
    for (const phase of ["initial", "after re-add"]) {
      for (const [group, n] of connectivity) assert.equal(count(report, phase, group), n, `${phase}: ${group}`);
    }
    // The negative controls, first pass only: each change, and the path back once it is undone.
    for (const [group, n] of [
      ["hairpin without MARK-MASQ", 1],
      ["SG without pod CIDR: pod -> pod, other node", 2],
      ["SG without pod CIDR: DNS from other node", 2],
      ["SG without pod CIDR: DNS on DNS's node", 3],
      ["SG pod CIDR back: pod -> pod, other node", 2],
      ["SG pod CIDR back: DNS from other node", 2],
    ] as const) {
      assert.equal(count(report, "initial", group), n, group);
      assert.equal(count(report, "after re-add", group), 0, `${group} runs once`);
    }
    for (const [group, n] of [
      ["CNI DEL every pod", 1],
      ["IPAM empty after DEL", 2],
      ["no pn* veth after DEL", 2],
      ["re-ADD gets a clean address", 5],
    ] as const) {
      assert.equal(count(report, "delete and re-add", group), n, group);
    }

    // DNS: the answer is the web Service's ClusterIP, through kube-dns at the 10th address of serviceCidr.
    for (const row of report.checks.filter((c) => c.group.includes("DNS") && !c.expect.startsWith("no"))) {
      assert.equal(row.seen, "A 10.96.0.20", `${row.group} from ${row.from}`);
      assert.match(row.to, /via kube-dns 10\.96\.0\.10:53$/);
    }
    for (const row of report.checks.filter((c) => c.group === "SG without pod CIDR: DNS from other node")) {
      assert.match(row.seen, /^no answer/, "004's failure: no server could be reached");
      assert.equal(report.pods.find((p) => p.name === row.from)?.node, "worker-2");
    }
    // UDP through a Service across nodes keeps the client pod's own address.
    const allPods = [...report.pods, ...report.readdedPods];
    for (const row of report.checks.filter((c) => c.group === "UDP service from pod, other node")) {
      const client = allPods.find((p) => p.name === row.from && row.seen === `web-worker-1 src ${p.ip}`);
      assert.ok(client && client.node !== "worker-1", `the echo server must see the client pod's IP, saw ${row.seen}`);
    }
    // The security group: the admin address gets in on 22 and 6443 only; the internet does not.
    for (const row of report.checks.filter((c) => c.group === "SSH and API server from admin"))
      assert.match(row.seen, /^src 198\.51\.100\.7$/);
    for (const row of report.checks.filter(
      (c) => c.group === "SSH and API server from internet" || c.group === "admin to another port",
    )) {
      assert.match(row.seen, /^no connection \(timed out/, "dropped silently, as a security group does");
    }

    // The source addresses the servers saw are the ones the seed labs promise.
    const nodeIp = new Map(report.routes.map((r) => [r.node, r.via]));
    for (const row of report.checks.filter((c) => c.group === "pod -> internet (masqueraded)")) {
      const node = report.pods.find((p) => p.name === row.from)?.node ?? "";
      assert.equal(row.seen, `src ${nodeIp.get(node)}`, "the internet must see the node's IP");
    }
    const podIps = new Set([...report.pods, ...report.readdedPods].map((p) => p.ip));
    for (const row of report.checks.filter((c) => c.group === "pod -> pod, other node")) {
      const ip = row.seen.replace(/^src /, "");
      assert.ok(podIps.has(ip), `cross-node traffic must keep the client pod's IP, saw ${row.seen}`);
    }
    // The routes are planCluster's; the pods came back with fresh, distinct addresses.
    assert.deepEqual(
      report.routes.map((r) => r.destination),
      planCluster({ clusterCidr: "10.244.0.0/16", nodeMaskSize: 24, workerCount: 2 }).map((n) => n.podCidr),
    );
    assert.equal(report.readdedPods.length, 5);
    assert.equal(new Set(report.readdedPods.map((p) => p.ip)).size, 5);
    assert.ok(
      report.throughput && report.throughput.podToPod.gbps > 0 && report.throughput.nodeToNode.gbps > 0,
      "iperf3 figures",
    );

    // Nothing left: namespaces, run dir, processes.
    const leftNs = sh("ip", ["netns", "list"])
      .split("\n")
      .filter((l) => l.startsWith(`${prefix}-`));
    assert.deepEqual(leftNs, [], "namespaces left behind");
    assert.equal(existsSync(runDirOf(prefix)), false, `${runDirOf(prefix)} left behind`);
    const procs = readdirSync("/proc")
      .filter((e) => /^\d+$/.test(e))
      .filter((e) => {
        try {
          return readFileSync(`/proc/${e}/cmdline`, "utf8").includes(`${runDirOf(prefix)}/`);
        } catch {
          return false;
        }
      });
    assert.deepEqual(procs, [], "lab processes left running");

    // The host's own namespace was never touched.
    const after = hostSnapshot();
    const newRules = after.rules.filter((r) => !before.rules.includes(r));
    assert.deepEqual(newRules, [], "podnet/lab iptables rules appeared in the host's namespace");
    assert.equal(after.ipForward, before.ipForward, "the host's ip_forward changed");
    assert.deepEqual(after.mounts, before.mounts, "a mount appeared in the host's mount namespace");
    const newLinks = after.links.filter((l) => !before.links.includes(l));
    const labLinks = newLinks.filter((l) => /^(cni0|vpc0|igw0|adm0|eth0|eni-.*|pn.*)$/.test(l));
    assert.deepEqual(labLinks, [], "lab links appeared in the host's namespace");
    if (newLinks.length > 0) console.log(`      (links created meanwhile by something else: ${newLinks.join(", ")})`);
    console.log(
      `      lab run: ${(elapsed / 1000).toFixed(1)} s, ${report.checks.length} checks; ` +
        `pod->pod ${report.throughput.podToPod.gbps.toFixed(1)} Gbit/s, node->node ${report.throughput.nodeToNode.gbps.toFixed(1)} Gbit/s`,
    );
  });
});
