// Builds the lab's network: a namespace per node with its own eth0 on the VPC subnet, a
// router namespace that plays the VPC route table, an "internet" namespace behind it, and
// each node's CNI files (conflist, bin dir) as the image and the stack install them.
//
//   internet ns  eth0 203.0.113.1/24 -- route 10.0.0.0/16 via 203.0.113.254
//   admin ns     eth0 198.51.100.7/24 -- route 10.0.0.0/16 via 198.51.100.254 (adminCidrs)
//        |
//   router ns    igw0 203.0.113.254/24, adm0 198.51.100.254/24
//                vpc0 (bridge) 10.0.1.1/24 -- eni-cp, eni-w1, eni-w2 ...
//                routes: <node pod CIDR> via <node IP>, one per node (planCluster)
//        |
//   node ns      eth0 10.0.1.1x/24, default via 10.0.1.1; cni0 + pods made by the plugin
//
// The router does no NAT toward the internet, and the internet only routes the VPC CIDR
// back: an AWS internet gateway also drops traffic from addresses that are not an
// instance's, so a pod's packet that the node did not masquerade goes nowhere here too.
// (The IGW's own 1:1 private-to-public translation is left out on purpose: the internet
// server then sees the node's private IP, which proves the node's MASQUERADE.)
import { chmodSync, copyFileSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ADMIN_GW_IP, ADMIN_PREFIX, IGW_IP, INTERNET_PREFIX, type LabPlan } from "./labPlan";
import { ipBatch, mustSync, sysctlIn } from "./sh";

/** The reference plugins the conflist chains after podnet, as Debian installs them. */
export const REFERENCE_PLUGIN_DIR = "/usr/lib/cni";
export const CHAINED_PLUGINS = ["portmap", "loopback"] as const;

export function createNamespaces(names: readonly string[]): void {
  for (const name of names) mustSync(["ip", "netns", "add", name]);
}

export function buildRouter(plan: LabPlan): void {
  const r = plan.router;
  const commands = [
    "link set lo up",
    `link add ${r.bridge} type bridge`,
    `addr add ${r.ip}/${plan.subnetPrefix} dev ${r.bridge}`,
    `link set ${r.bridge} up`,
  ];
  for (const node of plan.nodes) {
    // Created from inside the router namespace, the node's end straight into the node's:
    // no link ever exists in the host's namespace.
    commands.push(`link add ${node.routerPort} type veth peer name eth0 netns ${node.netns}`);
    commands.push(`link set ${node.routerPort} master ${r.bridge} up`);
  }
  commands.push(`link add ${r.igwPort} type veth peer name eth0 netns ${plan.internet.netns}`);
  commands.push(`addr add ${IGW_IP}/${INTERNET_PREFIX} dev ${r.igwPort}`);
  commands.push(`link set ${r.igwPort} up`);
  commands.push(`link add ${plan.admin.routerPort} type veth peer name eth0 netns ${plan.admin.netns}`);
  commands.push(`addr add ${ADMIN_GW_IP}/${ADMIN_PREFIX} dev ${plan.admin.routerPort}`);
  commands.push(`link set ${plan.admin.routerPort} up`);
  ipBatch(r.netns, commands);
  // A router forwards; the VPC router never tells instances to bypass it (no ICMP redirects).
  sysctlIn(r.netns, {
    "net.ipv4.ip_forward": "1",
    "net.ipv4.conf.all.send_redirects": "0",
    [`net.ipv4.conf.${r.bridge}.send_redirects`]: "0",
  });
}

/** The VPC route table: one route per node, its pod CIDR via its address. */
export function installVpcRoutes(plan: LabPlan): void {
  ipBatch(
    plan.router.netns,
    plan.routes.map((route) => `route add ${route.destination} via ${route.via} dev ${plan.router.bridge}`),
  );
}

export function buildNodes(plan: LabPlan): void {
  for (const node of plan.nodes) {
    ipBatch(node.netns, [
      "link set lo up",
      `addr add ${node.ip}/${plan.subnetPrefix} dev eth0`,
      "link set eth0 up",
      `route add default via ${plan.router.ip} dev eth0`,
    ]);
  }
}

/** A host outside the VPC, behind the router: its one link up and a route to the VPC through its gateway. */
function buildOutsideHost(host: { netns: string; ip: string }, prefix: number, gateway: string, vpcCidr: string): void {
  ipBatch(host.netns, [
    "link set lo up",
    `addr add ${host.ip}/${prefix} dev eth0`,
    "link set eth0 up",
    `route add ${vpcCidr} via ${gateway} dev eth0`,
  ]);
}

export function buildInternet(plan: LabPlan): void {
  buildOutsideHost(plan.internet, INTERNET_PREFIX, IGW_IP, plan.vpcCidr);
}

/** The admin's machine: outside the VPC like the internet, but at an address in adminCidrs. */
export function buildAdmin(plan: LabPlan): void {
  buildOutsideHost(plan.admin, ADMIN_PREFIX, ADMIN_GW_IP, plan.vpcCidr);
}

/**
 * CNI_PATH for the lab's runtime: the bundle installed as `podnet` with mode 0755 (as the
 * image installs /opt/cni/bin/podnet), and the reference plugins the conflist chains.
 */
export function installCniBin(plan: LabPlan, bundle: string): void {
  mkdirSync(plan.binDir, { recursive: true });
  const target = join(plan.binDir, "podnet");
  copyFileSync(bundle, target);
  chmodSync(target, 0o755);
  for (const name of CHAINED_PLUGINS) symlinkSync(join(REFERENCE_PLUGIN_DIR, name), join(plan.binDir, name));
}

/** Writes each node's conflist where its runtime reads it (the stack writes /etc/cni/net.d). */
export function writeConflists(plan: LabPlan): void {
  for (const node of plan.nodes) {
    mkdirSync(join(node.dir, "net.d"), { recursive: true });
    mkdirSync(node.dataDir, { recursive: true });
    writeFileSync(node.conflistPath, node.conflistJson);
  }
}
