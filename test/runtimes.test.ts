// Real runtimes calling the installed bundle: Debian's podman 4 (CNI backend) and
// containerd 1.6 (`ctr run --cni`), each on a "node" that is a network namespace of its
// own, with the conflist renderConflist makes for nodes and the bundle installed the way
// the AMI installs it. The image is built here from busybox-static; nothing is pulled.
// Everything the runs create is removed in after hooks, also when a test fails.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { cidrContainsIp, formatIPv4, gatewayOf, parseCidr, parseIPv4 } from "../cni/ipv4";
import { hostVethName } from "../cni/links";
import { SHEBANG } from "../cni/runtime";
import { pinnedBunVersion } from "../lab/bun";
import {
  BUNDLE,
  ipamStore,
  type NodeCni,
  pluginLog,
  reservations,
  sha256File,
  writeNodeConflist,
} from "./runtimes/cni";
import { Containerd } from "./runtimes/containerd";
import {
  addNetns,
  type Cmd,
  delNetns,
  describeCmd,
  HostTraces,
  inNetns,
  must,
  nodeLockFile,
  requireRoot,
  requireTools,
  runAll,
  sh,
  tempDir,
  waitFor,
  withPrivateVarLog,
} from "./runtimes/host";
import { buildOciArchive, buildRootfsTar, busyboxStatic, IMAGE_REF } from "./runtimes/image";
import { Podman } from "./runtimes/podman";

const TOOLS = {
  podman: "podman",
  conmon: "conmon",
  runc: "runc",
  containerd: "containerd",
  ctr: "containerd",
  nsenter: "util-linux",
  unshare: "util-linux",
  ip: "iproute2",
  "iptables-save": "iptables",
  tar: "tar",
};

/** The pod's IPv4 address as `ip -4 -o addr show dev eth0` inside the container prints it. */
function addressInside(res: Cmd, what: string): { ip: string; prefix: number } {
  assert.equal(res.status, 0, `reading ${what}'s address from inside it: ${res.stderr}`);
  const m = /\binet (\d+\.\d+\.\d+\.\d+)\/(\d+)/.exec(res.stdout);
  assert.ok(m, `${what} has no IPv4 address on eth0: ${res.stdout}`);
  return { ip: m[1], prefix: Number(m[2]) };
}

function assertNodeAddress(cni: NodeCni, addr: { ip: string; prefix: number }, what: string): void {
  const subnet = parseCidr(cni.node.podCidr);
  const value = parseIPv4(addr.ip);
  assert.ok(
    value !== undefined && cidrContainsIp(subnet, value),
    `${what} has ${addr.ip}, outside the node subnet ${cni.node.podCidr}`,
  );
  assert.equal(addr.prefix, subnet.prefix, `${what}'s prefix`);
  assert.notEqual(addr.ip, cni.node.gateway, `${what} got the gateway address`);
}

function assertPing(res: Cmd, from: string, to: string): void {
  assert.equal(res.status, 0, `${from} cannot ping ${to}:\n${res.stdout}${res.stderr}`);
  assert.match(res.stdout, /1 packets received/, `${from} -> ${to}`);
}

function assertReserved(cni: NodeCni, containerId: string, ip: string): void {
  const store = ipamStore(cni);
  assert.equal(store.find(containerId, "eth0")?.ip, ip, `IPAM reservation of ${containerId}`);
  assert.ok(existsSync(join(store.dir, ip)), `reservation file ${join(store.dir, ip)}`);
}

function assertReleased(cni: NodeCni, containerId: string, ip: string): void {
  const store = ipamStore(cni);
  assert.equal(store.find(containerId, "eth0"), undefined, `${containerId} still holds an address`);
  assert.ok(!existsSync(join(store.dir, ip)), `reservation file ${join(store.dir, ip)} is still there`);
}

function assertLogged(cni: NodeCni, verb: "ADD" | "DEL", containerId: string, ip: string): void {
  const lines = pluginLog(cni).filter((l) => l.verb === verb && l.containerId === containerId);
  assert.equal(lines.length, 1, `podnet's log has ${lines.length} ${verb} calls for ${containerId}`);
  assert.equal(lines[0].result, "ok", `${verb} ${containerId}: ${lines[0].msg ?? ""}`);
  assert.equal(lines[0].ip, ip, `${verb} ${containerId}'s logged address`);
  assert.equal(lines[0].runtime, `bun ${pinnedBunVersion()}`, `${verb} ${containerId} ran on the pinned Bun`);
}

function assertNoHostVeth(node: string, containerId: string): void {
  const veth = hostVethName(containerId, "eth0");
  assert.notEqual(
    sh(inNetns(node, ["ip", "link", "show", veth])).status,
    0,
    `node-side veth ${veth} is still on the node`,
  );
}

describe("real runtimes drive the installed bundle @root", function () {
  this.timeout(120_000);
  let traces: HostTraces | undefined;
  let base = "";
  let rootfsTar = "";
  let ociTar = "";
  /** Our entries in dirs other tools share (lock files, runtime state), removed at the end. */
  const ownEntries: string[] = [];

  before(function () {
    requireRoot("the real-runtime tests");
    requireTools(TOOLS);
    traces = new HostTraces();
    base = tempDir("pnrt-");
    rootfsTar = buildRootfsTar(base);
    ociTar = buildOciArchive(base, rootfsTar);
  });

  after(function () {
    const errors = runAll([
      ["host traces", () => traces?.cleanup(ownEntries)],
      ["temp dir", () => void (base && rmSync(base, { recursive: true, force: true }))],
    ]);
    if (errors.length > 0) throw new Error(`cleanup: ${errors.join("\n")}`);
  });

  /** A node netns; its netfilter lock file (named by the netns inode) is ours to remove. */
  function addNode(name: string): void {
    addNetns(name);
    ownEntries.push(nodeLockFile(name));
  }

  it("installs the bundle as /opt/cni/bin/podnet is installed on nodes (not ts-node)", function () {
    const cni = writeNodeConflist(join(base, "install-check"));
    const installed = join(cni.binDir, "podnet");
    assert.equal(statSync(installed).mode & 0o7777, 0o755);
    assert.equal(sha256File(installed), sha256File(BUNDLE));
    assert.equal(readFileSync(installed, "utf8").split("\n")[0], SHEBANG, "runs on the pinned Bun");
    const version = must(withPrivateVarLog([installed]), {
      env: { CNI_COMMAND: "VERSION" },
      input: '{"cniVersion":"1.0.0"}',
    });
    assert.deepEqual(JSON.parse(version).cniVersion, "1.0.0");
  });

  describe("podman 4 with the CNI backend", function () {
    const node = `pnrt-${process.pid}-pm`;
    const client = `pnrt-${process.pid}-cl`;
    const nodeLinkIp = "192.168.77.1";
    const hostPort = 18080;
    let cni: NodeCni;
    let podman: Podman | undefined;

    before(function () {
      addNode(node);
      // A client on a link to the node, as another machine would reach a hostPort.
      addNetns(client);
      must([
        "ip",
        "-n",
        node,
        "link",
        "add",
        `pnrt${process.pid}n`,
        "type",
        "veth",
        "peer",
        "name",
        `pnrt${process.pid}c`,
        "netns",
        client,
      ]);
      must(["ip", "-n", node, "addr", "add", `${nodeLinkIp}/24`, "dev", `pnrt${process.pid}n`]);
      must(["ip", "-n", node, "link", "set", `pnrt${process.pid}n`, "up"]);
      must(["ip", "-n", client, "addr", "add", "192.168.77.2/24", "dev", `pnrt${process.pid}c`]);
      must(["ip", "-n", client, "link", "set", `pnrt${process.pid}c`, "up"]);
      cni = writeNodeConflist(join(base, "podman"));
      podman = new Podman(join(base, "podman", "engine"), node, cni);
      podman.importImage(rootfsTar, IMAGE_REF);
    });

    after(function () {
      const errors = runAll([
        ["podman", () => podman?.destroy()],
        ["shared entries", () => void ownEntries.push(...(podman?.sharedEntries() ?? []))],
        ["client netns", () => delNetns(client)],
        ["node netns", () => delNetns(node)],
      ]);
      if (errors.length > 0) throw new Error(`cleanup: ${errors.join("\n")}`);
    });

    it("gives a container an address from the node subnet that reaches the gateway and a second container; podman rm releases it", function () {
      const p = podman!;
      const a = p.runDetached("pnrt-a", IMAGE_REF, ["sleep", "600"]);
      const b = p.runDetached("pnrt-b", IMAGE_REF, ["sleep", "600"]);
      const addrA = addressInside(p.exec("pnrt-a", ["ip", "-4", "-o", "addr", "show", "dev", "eth0"]), "pnrt-a");
      const addrB = addressInside(p.exec("pnrt-b", ["ip", "-4", "-o", "addr", "show", "dev", "eth0"]), "pnrt-b");
      assertNodeAddress(cni, addrA, "pnrt-a");
      assertNodeAddress(cni, addrB, "pnrt-b");
      assert.notEqual(addrA.ip, addrB.ip, "two containers got the same address");
      assertReserved(cni, a.id, addrA.ip);
      assertReserved(cni, b.id, addrB.ip);
      assertLogged(cni, "ADD", a.id, addrA.ip);
      assertLogged(cni, "ADD", b.id, addrB.ip);

      assertPing(p.exec("pnrt-a", ["ping", "-c", "1", "-W", "3", cni.node.gateway]), "pnrt-a", "the gateway");
      assertPing(p.exec("pnrt-a", ["ping", "-c", "1", "-W", "3", addrB.ip]), "pnrt-a", "pnrt-b");
      assertPing(p.exec("pnrt-b", ["ping", "-c", "1", "-W", "3", addrA.ip]), "pnrt-b", "pnrt-a");

      p.rm(["pnrt-a"]);
      assertReleased(cni, a.id, addrA.ip);
      assertLogged(cni, "DEL", a.id, addrA.ip);
      assertNoHostVeth(node, a.id);
      assert.ok(!existsSync(a.sandboxKey), `podman left its netns ${a.sandboxKey}`);
      assertReserved(cni, b.id, addrB.ip); // DEL of one container leaves the other alone

      p.rm(["pnrt-b"]);
      assertReleased(cni, b.id, addrB.ip);
      assertNoHostVeth(node, b.id);
      assert.deepEqual(reservations(cni), []);
    });

    it("serves a hostPort with the conflist's reference portmap chained after podnet", async function () {
      const p = podman!;
      const token = `pnrt-${randomBytes(6).toString("hex")}`;
      const web = p.runDetached(
        "pnrt-web",
        IMAGE_REF,
        ["sh", "-c", `mkdir -p /www && echo ${token} > /www/index.html && exec httpd -f -p 80 -h /www`],
        ["-p", `${hostPort}:80`],
      );
      const addr = addressInside(p.exec("pnrt-web", ["ip", "-4", "-o", "addr", "show", "dev", "eth0"]), "pnrt-web");
      assertNodeAddress(cni, addr, "pnrt-web");
      const nc = inNetns(client, [busyboxStatic(), "nc", "-w", "3", nodeLinkIp, String(hostPort)]);
      let last: Cmd | undefined;
      const reply = await waitFor(
        () => {
          last = sh(nc, { input: "GET / HTTP/1.0\r\n\r\n", timeoutMs: 5_000 });
          return last.stdout.includes(token) ? last.stdout : undefined;
        },
        15_000,
        () =>
          `no reply from ${nodeLinkIp}:${hostPort} (the node) in the client netns: ${last ? describeCmd(nc, last) : "not tried"}`,
      );
      assert.match(reply, /^HTTP\/1\.[01] 200/);
      const nat = must(inNetns(node, ["iptables-save", "-t", "nat"]));
      assert.ok(nat.includes(`--to-destination ${addr.ip}:80`), `portmap's DNAT to ${addr.ip}:80 is missing:\n${nat}`);

      p.rm(["pnrt-web"]);
      assertReleased(cni, web.id, addr.ip);
      const after = must(inNetns(node, ["iptables-save", "-t", "nat"]));
      assert.ok(!after.includes(web.id) && !after.includes(`${addr.ip}:80`), `portmap's DEL left rules:\n${after}`);
      assert.notEqual(
        sh(nc, { input: "GET / HTTP/1.0\r\n\r\n", timeoutMs: 5_000 }).stdout.includes(token),
        true,
        "the hostPort still answers",
      );
    });
  });

  describe("containerd: ctr run --cni", function () {
    const node = `pnrt-${process.pid}-ct`;
    let cni: NodeCni;
    let ctrd: Containerd | undefined;

    before(async function () {
      addNode(node);
      cni = writeNodeConflist(join(base, "ctr"));
      ctrd = new Containerd(join(base, "containerd"));
      await ctrd.start();
      ctrd.importImage(ociTar);
    });

    after(async function () {
      const errors = ctrd ? await ctrd.destroy() : [];
      errors.push(
        ...runAll([
          ["shared entries", () => void ownEntries.push(...(ctrd?.sharedEntries() ?? []))],
          ["node netns", () => delNetns(node)],
        ]),
      );
      if (errors.length > 0) throw new Error(`cleanup: ${errors.join("\n")}`);
    });

    it("gives a task an address from the node subnet that reaches the gateway and a second task; the exit releases it", async function () {
      const c = ctrd!;
      c.runWithCni("pnrt-a", IMAGE_REF, ["sleep", "600"], node, cni);
      c.runWithCni("pnrt-b", IMAGE_REF, ["sleep", "600"], node, cni);
      await c.waitRunning("pnrt-a");
      await c.waitRunning("pnrt-b");
      const idA = c.cniContainerId("pnrt-a");
      const idB = c.cniContainerId("pnrt-b");
      const addrA = addressInside(c.exec("pnrt-a", ["ip", "-4", "-o", "addr", "show", "dev", "eth0"]), "pnrt-a");
      const addrB = addressInside(c.exec("pnrt-b", ["ip", "-4", "-o", "addr", "show", "dev", "eth0"]), "pnrt-b");
      assertNodeAddress(cni, addrA, "pnrt-a");
      assertNodeAddress(cni, addrB, "pnrt-b");
      assert.notEqual(addrA.ip, addrB.ip, "two tasks got the same address");
      assertReserved(cni, idA, addrA.ip);
      assertReserved(cni, idB, addrB.ip);
      assertLogged(cni, "ADD", idA, addrA.ip);
      assertLogged(cni, "ADD", idB, addrB.ip);

      const gateway = formatIPv4(gatewayOf(parseCidr(cni.node.podCidr)));
      assertPing(c.exec("pnrt-a", ["ping", "-c", "1", "-W", "3", gateway]), "pnrt-a", "the gateway");
      assertPing(c.exec("pnrt-a", ["ping", "-c", "1", "-W", "3", addrB.ip]), "pnrt-a", "pnrt-b");
      assertPing(c.exec("pnrt-b", ["ping", "-c", "1", "-W", "3", addrA.ip]), "pnrt-b", "pnrt-a");

      await c.stopContainer("pnrt-a");
      assertReleased(cni, idA, addrA.ip);
      assertLogged(cni, "DEL", idA, addrA.ip);
      assertNoHostVeth(node, idA);
      assert.ok(!c.containerExists("pnrt-a"), "ctr run --rm left the container");
      assertReserved(cni, idB, addrB.ip);

      await c.stopContainer("pnrt-b");
      assertReleased(cni, idB, addrB.ip);
      assertNoHostVeth(node, idB);
      assert.deepEqual(reservations(cni), []);
    });
  });
});
