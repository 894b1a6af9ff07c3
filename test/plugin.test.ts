// The bundled plugin in real network namespaces: "the node" is a namespace, pods are
// namespaces, and the machine's own namespace must come out exactly as it went in.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { currentBootId } from "../cni/ipam";
import { hostVethName } from "../cni/links";
import { pinnedBunVersion } from "../lab/bun";
import {
  BUNDLE,
  hostSnapshot,
  Namespaces,
  type PluginCall,
  requireRoot,
  runPlugin,
  tempDir,
  uniquePrefix,
} from "./helpers/system";

const SUBNET = "10.244.1.0/24";

describe("podnet plugin in network namespaces (root)", function () {
  this.timeout(120_000);
  const ns = new Namespaces(uniquePrefix("pnt"));
  let dir: ReturnType<typeof tempDir>;
  let node: string;
  let hostBefore: ReturnType<typeof hostSnapshot>;
  let podCount = 0;

  const conf = (extra: Record<string, unknown> = {}) => ({
    cniVersion: "1.0.0",
    name: "podnet",
    type: "podnet",
    subnet: SUBNET,
    clusterCidr: "10.244.0.0/16",
    dataDir: join(dir.path, "ipam"),
    logFile: join(dir.path, "podnet.log"),
    ...extra,
  });
  const ipamDir = () => join(dir.path, "ipam", "podnet", currentBootId());
  const reservations = () =>
    existsSync(ipamDir()) ? readdirSync(ipamDir()).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f)) : [];
  const nodeLinks = () => ns.exec(node, "ip", ["-o", "link", "show"]);
  const lastLog = (containerId: string) =>
    readFileSync(join(dir.path, "podnet.log"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.containerId === containerId)
      .pop();

  function newPod(): { name: string; path: string; id: string } {
    podCount += 1;
    const name = ns.add(`p${podCount}`);
    return { name, path: `/var/run/netns/${name}`, id: `ctr${podCount}` };
  }

  async function add(
    pod: { path: string; id: string },
    extra: Record<string, unknown> = {},
    ifname = "eth0",
  ): Promise<PluginCall> {
    return runPlugin(
      node,
      { command: "ADD", containerId: pod.id, netns: pod.path, ifname },
      JSON.stringify(conf(extra)),
    );
  }
  async function del(
    pod: { path: string; id: string },
    netns = pod.path,
    extra: Record<string, unknown> = {},
  ): Promise<PluginCall> {
    return runPlugin(node, { command: "DEL", containerId: pod.id, netns, ifname: "eth0" }, JSON.stringify(conf(extra)));
  }
  function podIp(call: PluginCall): string {
    assert.equal(call.code, 0, call.stdout + call.stderr);
    const ips = call.json?.ips as Array<{ address: string }>;
    return ips[0].address.split("/")[0];
  }
  const ping = (from: string, to: string) => ns.tryExec(from, "ping", ["-c", "1", "-W", "2", to]).ok;

  before(function () {
    requireRoot("the plugin integration suite");
    assert.ok(existsSync(BUNDLE), `${BUNDLE} is missing: run "npm run build" first`);
    hostBefore = hostSnapshot();
  });

  // Each test gets a node namespace, an IPAM store and a log of its own, as the reference
  // plugins' tests make a fresh netns per test: no test depends on another having cleaned up.
  let nodeCount = 0;
  beforeEach(() => {
    dir = tempDir("podnet-it");
    nodeCount += 1;
    node = ns.add(`node${nodeCount}`);
    ns.exec(node, "ip", ["link", "set", "lo", "up"]);
  });

  afterEach(() => {
    ns.cleanup();
    dir?.cleanup();
  });

  after(() => {
    if (hostBefore) assert.deepEqual(hostSnapshot(), hostBefore, "the host namespace is left as it was");
  });

  it("ADD wires a pod: bridge with .1, address, default route, MAC and hairpin; pods reach the gateway and each other", async () => {
    const a = newPod();
    const b = newPod();
    const ra = await add(a);
    const rb = await add(b);
    const ipA = podIp(ra);
    const ipB = podIp(rb);
    assert.notEqual(ipA, ipB);
    const ifaces = ra.json?.interfaces as Array<{ name: string; mac: string; sandbox?: string }>;
    assert.equal(ifaces[1].name, "eth0");
    assert.equal(ifaces[1].sandbox, a.path);
    const liveMac = JSON.parse(ns.exec(a.name, "ip", ["-json", "link", "show", "eth0"]))[0].address;
    assert.equal(ifaces[1].mac, liveMac, "the result's MAC is the pod's");
    assert.deepEqual(ra.json?.routes, [{ dst: "0.0.0.0/0", gw: "10.244.1.1" }]);
    const bridge = JSON.parse(ns.exec(node, "ip", ["-json", "addr", "show", "dev", "cni0"]))[0];
    assert.deepEqual(
      bridge.addr_info
        .filter((x: { family: string }) => x.family === "inet")
        .map((x: { local: string; prefixlen: number }) => `${x.local}/${x.prefixlen}`),
      ["10.244.1.1/24"],
    );
    const host = JSON.parse(ns.exec(node, "ip", ["-json", "-details", "link", "show", hostVethName(a.id, "eth0")]))[0];
    assert.equal(host.master, "cni0");
    assert.equal(host.linkinfo.info_slave_data.hairpin, true);
    assert.match(ns.exec(a.name, "ip", ["route", "show", "default"]), /default via 10\.244\.1\.1 dev eth0/);
    assert.ok(ping(a.name, "10.244.1.1"), "pod reaches its gateway");
    assert.ok(ping(a.name, ipB), "pod reaches its neighbour");
    assert.equal(ns.exec(node, "cat", ["/proc/sys/net/ipv4/ip_forward"]).trim(), "1");
    // The pod-side name never existed on the node.
    assert.doesNotMatch(nodeLinks(), /\beth0\b/);
    await del(a);
    await del(b);
  });

  it("installs the FORWARD and MASQUERADE rules once, in podnet's chains", async () => {
    const pods = [newPod(), newPod(), newPod()];
    for (const p of pods) podIp(await add(p));
    const save = ns.exec(node, "iptables-save", []);
    assert.equal(save.match(/^-A FORWARD .*-j PODNET-FORWARD$/gm)?.length, 1);
    assert.equal(save.match(/^-A POSTROUTING .*-j PODNET-POSTROUTING$/gm)?.length, 1);
    assert.match(save, /^-A PODNET-FORWARD -s 10\.244\.0\.0\/16 .*-j ACCEPT$/m);
    assert.match(save, /^-A PODNET-FORWARD -d 10\.244\.0\.0\/16 .*-j ACCEPT$/m);
    assert.match(save, /^-A PODNET-POSTROUTING -d 10\.244\.0\.0\/16 .*-j RETURN$/m);
    assert.match(save, /^-A PODNET-POSTROUTING -s 10\.244\.1\.0\/24 .*-j MASQUERADE$/m);
    assert.equal(save.match(/^-A PODNET-/gm)?.length, 4, "no duplicated rule");
    for (const p of pods) assert.equal((await del(p)).code, 0);
  });

  it("brings the rules back on the next ADD after they are flushed (as after a reboot), and CHECK notices first", async () => {
    const p = newPod();
    const r = await add(p);
    podIp(r);
    ns.exec(node, "iptables", ["-F", "FORWARD"]);
    ns.exec(node, "iptables", ["-t", "nat", "-F"]);
    ns.exec(node, "iptables", ["-t", "nat", "-X", "PODNET-POSTROUTING"]);
    const check = await runPlugin(
      node,
      { command: "CHECK", containerId: p.id, netns: p.path, ifname: "eth0" },
      JSON.stringify(conf({ prevResult: r.json })),
    );
    assert.equal(check.code, 1);
    assert.match(String(check.json?.msg), /iptables rules are wrong/);
    const q = newPod();
    podIp(await add(q));
    const save = ns.exec(node, "iptables-save", []);
    assert.equal(save.match(/^-A FORWARD .*-j PODNET-FORWARD$/gm)?.length, 1);
    assert.equal(save.match(/^-A POSTROUTING .*-j PODNET-POSTROUTING$/gm)?.length, 1);
    assert.match(save, /-j MASQUERADE/);
    await del(p);
    await del(q);
  });

  it("checks the node once per window: later ADDs run no process (netlink from the plugin); a stale mark brings flushed rules back", async () => {
    const p = newPod();
    podIp(await add(p));
    const alias = JSON.parse(ns.exec(node, "ip", ["-json", "-details", "link", "show", "cni0"]))[0].ifalias as string;
    const inode = statSync(`/var/run/netns/${node}`).ino;
    assert.match(alias, new RegExp(`^podnet: node [0-9a-f]{12} netns ${inode} verified \\d+$`));
    const q = newPod();
    podIp(await add(q));
    assert.equal(
      lastLog(q.id)?.execs,
      0,
      "netlink from the plugin: no ip, no bridge read, no iptables-save inside the window",
    );
    const hostEnd = JSON.parse(
      ns.exec(node, "ip", ["-json", "-details", "link", "show", hostVethName(q.id, "eth0")]),
    )[0];
    assert.equal(hostEnd.master, "cni0");
    assert.ok(hostEnd.flags.includes("UP"));
    assert.equal(hostEnd.linkinfo.info_slave_data.hairpin, true, "hairpin, set through sysfs");
    assert.ok(
      ping(q.name, "10.244.1.1") && ping(q.name, podIp(await add(p))),
      "the pod reaches the gateway and its neighbour",
    );

    // With a read-only sysfs the one-process ADD sets hairpin with ip instead.
    const t = newPod();
    const readOnly = await runPlugin(
      node,
      { command: "ADD", containerId: t.id, netns: t.path, ifname: "eth0", readOnlySysfs: true },
      JSON.stringify(conf()),
    );
    podIp(readOnly);
    assert.equal(lastLog(t.id)?.execs, 1, "netlink, then ip for hairpin");
    const tEnd = JSON.parse(ns.exec(node, "ip", ["-json", "-details", "link", "show", hostVethName(t.id, "eth0")]))[0];
    assert.equal(tEnd.linkinfo.info_slave_data.hairpin, true);

    // A caller that enters only the network namespace leaves the plugin the host's sysfs:
    // the full path, two processes, and the host is not touched.
    const s = newPod();
    const viaNsenter = await runPlugin(
      node,
      { command: "ADD", containerId: s.id, netns: s.path, ifname: "eth0", netnsOnly: true },
      JSON.stringify(conf()),
    );
    podIp(viaNsenter);
    assert.equal(lastLog(s.id)?.execs, 2, "one ip batch on the node, one in the pod");
    assert.ok(ping(s.name, "10.244.1.1"));

    // Rules flushed by hand while the mark is fresh stay gone; once it is stale, the next ADD repairs.
    ns.exec(node, "iptables", ["-F", "FORWARD"]);
    const stale = alias.replace(/verified \d+$/, `verified ${Math.floor(Date.now() / 1000) - 3600}`);
    ns.exec(node, "ip", ["link", "set", "dev", "cni0", "alias", stale]);
    const r = newPod();
    podIp(await add(r));
    assert.equal(ns.exec(node, "iptables-save", []).match(/^-A FORWARD .*-j PODNET-FORWARD$/gm)?.length, 1);
    for (const x of [p, q, r, s, t]) await del(x);
  });

  it("inside the window, an ADD the pod-side batch cannot make falls back to the full path, which reports it and leaves nothing", async () => {
    const first = newPod();
    podIp(await add(first)); // checks the node, which opens the window
    await del(first);
    const ok = newPod();
    const okIp = podIp(await add(ok));
    assert.equal(lastLog(ok.id)?.execs, 0, "the node check is fresh");
    const p = newPod();
    ns.exec(p.name, "ip", ["link", "add", "eth0", "type", "veth", "peer", "name", "other0"]);
    const r = await add(p);
    assert.equal(r.code, 1);
    assert.match(String(r.json?.msg), /eth0 already exists/);
    assert.equal(
      lastLog(p.id)?.execs,
      1,
      "the netlink attempt (refused), the node's ip batch of the full path (fails), the rollback over netlink",
    );
    assert.doesNotMatch(nodeLinks(), new RegExp(hostVethName(p.id, "eth0")));
    assert.deepEqual(reservations(), [okIp], "the failed ADD released its address");
    await del(ok);
  });

  it("inside the window, a pod step that fails over netlink deletes the pair and releases the address", async () => {
    const ok = newPod();
    podIp(await add(ok));
    // The pod already has a default route, so the plugin's route add is refused (EEXIST)
    // after the pair and the address are made.
    const p = newPod();
    ns.exec(p.name, "ip", ["link", "add", "x0", "type", "veth", "peer", "name", "x1"]);
    ns.exec(p.name, "ip", ["addr", "add", "10.99.0.1/24", "dev", "x0"]);
    ns.exec(p.name, "ip", ["link", "set", "x0", "up"]);
    ns.exec(p.name, "ip", ["route", "add", "default", "via", "10.99.0.2", "dev", "x0"]);
    const r = await add(p);
    assert.equal(r.code, 1, r.stdout);
    assert.match(
      String(r.json?.msg),
      /netlink failed in \/var\/run\/netns\/\S+: route add default dev eth0: File exists/,
    );
    assert.equal(lastLog(p.id)?.execs, 0, "no process: the failure and the rollback are netlink's");
    assert.doesNotMatch(nodeLinks(), new RegExp(hostVethName(p.id, "eth0")));
    assert.equal(ns.tryExec(p.name, "ip", ["link", "show", "eth0"]).ok, false, "the pod end went with the pair");
    assert.deepEqual(reservations(), [lastLog(ok.id)?.ip], "the failed ADD released its address");
    await del(ok);
  });

  it("without Bun's FFI (the bundle run by Node) the one-process ADD and DEL take ip, with the same result", async () => {
    const first = newPod();
    podIp(await add(first));
    const p = newPod();
    const r = await runPlugin(
      node,
      { command: "ADD", containerId: p.id, netns: p.path, ifname: "eth0", runtime: process.execPath },
      JSON.stringify(conf()),
    );
    const ip = podIp(r);
    assert.equal(lastLog(p.id)?.runtime, `node ${process.versions.node}`);
    assert.equal(lastLog(p.id)?.execs, 1, "one ip batch in the pod");
    const hostEnd = JSON.parse(
      ns.exec(node, "ip", ["-json", "-details", "link", "show", hostVethName(p.id, "eth0")]),
    )[0];
    assert.equal(hostEnd.master, "cni0");
    assert.equal(hostEnd.linkinfo.info_slave_data.hairpin, true);
    assert.ok(ping(p.name, "10.244.1.1"));
    const d = await runPlugin(
      node,
      { command: "DEL", containerId: p.id, netns: p.path, ifname: "eth0", runtime: process.execPath },
      JSON.stringify(conf()),
    );
    assert.equal(d.code, 0, d.stdout);
    assert.equal(lastLog(p.id)?.execs, 1, "ip link del");
    assert.doesNotMatch(nodeLinks(), new RegExp(hostVethName(p.id, "eth0")));
    assert.ok(!reservations().includes(ip));
    await del(first);
  });

  it("a CHECK that finds the bridge wrong inside the window makes the next ADD check the node and repair it", async () => {
    const p = newPod();
    const r = await add(p);
    podIp(r);
    ns.exec(node, "ip", ["addr", "del", "10.244.1.1/24", "dev", "cni0"]);
    const check = await runPlugin(
      node,
      { command: "CHECK", containerId: p.id, netns: p.path, ifname: "eth0" },
      JSON.stringify(conf({ prevResult: r.json })),
    );
    assert.match(String(check.json?.msg), /bridge cni0 lacks the gateway address 10\.244\.1\.1\/24/);
    assert.equal(
      JSON.parse(ns.exec(node, "ip", ["-json", "-details", "link", "show", "cni0"]))[0].ifalias ?? "",
      "",
      "CHECK forgot the node check",
    );
    const q = newPod();
    podIp(await add(q));
    assert.ok((lastLog(q.id)?.execs as number) >= 2, "the full path, not the one-process ADD");
    assert.ok(ping(q.name, "10.244.1.1") && ping(p.name, "10.244.1.1"), "the gateway is back");
    for (const x of [p, q]) await del(x);
  });

  it("CHECK passes on a healthy pod and names what is missing otherwise", async () => {
    const p = newPod();
    const r = await add(p);
    const ip = podIp(r);
    const check = (prev: unknown = r.json) =>
      runPlugin(
        node,
        { command: "CHECK", containerId: p.id, netns: p.path, ifname: "eth0" },
        JSON.stringify(conf({ prevResult: prev })),
      );
    const ok = await check();
    assert.equal(ok.code, 0, ok.stdout);
    assert.equal(ok.stdout, "");

    ns.exec(p.name, "ip", ["route", "del", "default"]);
    assert.match(String((await check()).json?.msg), /default route via 10\.244\.1\.1 dev eth0 is missing/);
    ns.exec(p.name, "ip", ["addr", "del", `${ip}/24`, "dev", "eth0"]);
    assert.match(
      String((await check()).json?.msg),
      new RegExp(`eth0 in .* does not hold ${ip.replace(/\./g, "\\.")}/24`),
    );
    const wrongIp = JSON.parse(JSON.stringify(r.json));
    wrongIp.ips[0].address = "10.244.1.250/24";
    assert.match(String((await check(wrongIp)).json?.msg), /IPAM reserves .* but the ADD result says 10\.244\.1\.250/);
    ns.exec(node, "ip", ["link", "del", hostVethName(p.id, "eth0")]);
    assert.match(String((await check()).json?.msg), /node-side veth pn[0-9a-f]{13} is missing/);
    await del(p);
    assert.match(String((await check()).json?.msg), /no IPAM reservation for ctr\d+\/eth0/);
  });

  it("DEL releases the address and the veth, and succeeds again, with the netns gone, or with CNI_NETNS empty", async () => {
    const p = newPod();
    const ip = podIp(await add(p));
    assert.ok(reservations().includes(ip));
    const first = await del(p);
    assert.equal(first.code, 0, first.stdout);
    assert.equal(first.stdout, "");
    assert.ok(!reservations().includes(ip), "reservation released");
    assert.doesNotMatch(nodeLinks(), new RegExp(hostVethName(p.id, "eth0")));
    assert.equal((await del(p)).code, 0, "second DEL");
    ns.remove(p.name);
    assert.equal((await del(p)).code, 0, "DEL with the netns gone");
    assert.equal((await del(p, "")).code, 0, "DEL with CNI_NETNS empty");

    // A pod whose netns vanished before DEL still gets its address back.
    const q = newPod();
    const qip = podIp(await add(q));
    ns.remove(q.name);
    assert.equal((await del(q, "")).code, 0);
    assert.ok(!reservations().includes(qip));
  });

  it("a second ADD for the same container and ifname keeps its address", async () => {
    const p = newPod();
    const first = podIp(await add(p));
    const second = await add(p);
    assert.equal(podIp(second), first);
    assert.equal(reservations().filter((r) => r === first).length, 1);
    assert.equal(reservations().length, 1);
    assert.ok(ping(p.name, "10.244.1.1"));
    await del(p);
  });

  it("answers in the config's version: 0.3.1 and 0.4.0 results carry ips[].version", async () => {
    for (const cniVersion of ["0.3.0", "0.3.1", "0.4.0", "1.1.0"]) {
      const p = newPod();
      const r = await add(p, { cniVersion });
      assert.equal(r.code, 0, r.stdout);
      assert.equal(r.json?.cniVersion, cniVersion);
      const ips = r.json?.ips;
      assert.ok(Array.isArray(ips) && ips.length > 0, `no ips in the ${cniVersion} result: ${r.stdout}`);
      const ip = ips[0] as Record<string, unknown>;
      assert.equal(ip.version, cniVersion.startsWith("0.") ? "4" : undefined);
      await del(p, p.path, { cniVersion });
    }
  });

  it("100 concurrent ADDs give 100 distinct addresses and no failure; 100 concurrent DELs free them all", async function () {
    this.timeout(180_000);
    const pods = Array.from({ length: 100 }, () => newPod());
    const results = await Promise.all(pods.map((p) => add(p)));
    const failures = results.filter((r) => r.code !== 0).map((r) => r.stdout + r.stderr);
    assert.deepEqual(failures, []);
    const ips = results.map(podIp);
    assert.equal(new Set(ips).size, 100);
    assert.equal(reservations().length, 100);
    const save = ns.exec(node, "iptables-save", []);
    assert.equal(save.match(/^-A FORWARD .*-j PODNET-FORWARD$/gm)?.length, 1, "racing ADDs never duplicate a jump");
    assert.ok(ping(pods[0].name, ips[99]));
    const dels = await Promise.all(pods.map((p) => del(p)));
    assert.deepEqual(
      dels.filter((r) => r.code !== 0).map((r) => r.stdout),
      [],
    );
    assert.equal(reservations().length, 0);
    assert.doesNotMatch(nodeLinks(), /pn[0-9a-f]{13}/);
    for (const p of pods) ns.remove(p.name);
  });

  it("racing ADDs on a fresh node create one bridge and one set of rules", async () => {
    const fresh = ns.add("fresh");
    const pods = Array.from({ length: 20 }, () => newPod());
    const results = await Promise.all(
      pods.map((p) =>
        runPlugin(
          fresh,
          { command: "ADD", containerId: p.id, netns: p.path, ifname: "eth0" },
          JSON.stringify(conf({ dataDir: join(dir.path, "fresh") })),
        ),
      ),
    );
    assert.deepEqual(
      results.filter((r) => r.code !== 0).map((r) => r.stdout),
      [],
    );
    const save = ns.exec(fresh, "iptables-save", []);
    assert.equal(save.match(/^-A FORWARD .*-j PODNET-FORWARD$/gm)?.length, 1);
    assert.equal(save.match(/^-A POSTROUTING .*-j PODNET-POSTROUTING$/gm)?.length, 1);
    assert.equal(save.match(/^-A PODNET-/gm)?.length, 4);
    assert.equal(ns.exec(fresh, "ip", ["-o", "addr", "show", "dev", "cni0"]).match(/inet /g)?.length, 1);
    ns.remove(fresh);
    for (const p of pods) ns.remove(p.name);
  });

  it("a kill -9 in the middle of an ADD followed by DEL leaves nothing behind", async () => {
    // Time an undisturbed ADD, then kill ADDs at points spread over that time: some die
    // before any work, some after the reservation or the veth. Whatever was done, DEL undoes.
    // The node's first ADD also checks the node: made first, so the probe is timed like the ADDs killed below.
    const warmup = newPod();
    podIp(await add(warmup));
    await del(warmup);
    const probe = newPod();
    const t0 = process.hrtime.bigint();
    podIp(await add(probe));
    const fullMs = Number(process.hrtime.bigint() - t0) / 1e6;
    await del(probe);
    let partial = 0;
    for (let i = 0; i < 16; i++) {
      const delayMs = Math.round((fullMs * (30 + i * 5)) / 100);
      const p = newPod();
      let killed = false;
      await runPlugin(
        node,
        { command: "ADD", containerId: p.id, netns: p.path, ifname: "eth0" },
        JSON.stringify(conf()),
        (pid) =>
          setTimeout(() => {
            try {
              process.kill(pid, "SIGKILL");
              killed = true;
            } catch {
              // already finished
            }
          }, delayMs),
      );
      const leftBehind = reservations().length > 0 || /pn[0-9a-f]{13}/.test(nodeLinks());
      if (killed && leftBehind) partial += 1;
      const d = await del(p);
      assert.equal(d.code, 0, `DEL after kill at ${delayMs} ms: ${d.stdout}`);
      assert.deepEqual(reservations(), [], `no reservation after kill at ${delayMs} ms`);
      assert.deepEqual(
        readdirSync(ipamDir()).filter((f) => f.startsWith(".attachment.")),
        [],
        "no attachment file",
      );
      assert.doesNotMatch(nodeLinks(), /pn[0-9a-f]{13}/, `no veth after kill at ${delayMs} ms`);
      assert.doesNotMatch(ns.exec(p.name, "ip", ["-o", "link"]), /eth0/);
      ns.remove(p.name);
    }
    assert.ok(partial > 0, "at least one kill landed after the ADD had reserved an address or made the veth");
  });

  it("refuses an exhausted subnet with code 100 naming it, leaking no veth", async () => {
    const small = { subnet: "10.244.1.0/29", dataDir: join(dir.path, "small") };
    const smallNode = ns.add("small");
    const pods = Array.from({ length: 6 }, () => newPod());
    const results: PluginCall[] = [];
    const call = (command: string, p: { id: string; path: string }, extra: Record<string, unknown> = {}) =>
      runPlugin(
        smallNode,
        { command, containerId: p.id, netns: p.path, ifname: "eth0" },
        JSON.stringify(conf({ ...small, ...extra })),
      );
    for (const p of pods) results.push(await call("ADD", p));
    assert.deepEqual(
      results.slice(0, 5).map((r) => r.code),
      [0, 0, 0, 0, 0],
    );
    const last = results[5];
    assert.equal(last.code, 1);
    assert.equal(last.json?.code, 100);
    assert.match(String(last.json?.msg), /no free address in 10\.244\.1\.0\/29/);
    assert.doesNotMatch(ns.exec(smallNode, "ip", ["-o", "link"]), new RegExp(hostVethName(pods[5].id, "eth0")));
    const status = await runPlugin(
      smallNode,
      { command: "STATUS" },
      JSON.stringify(conf({ ...small, cniVersion: "1.1.0" })),
    );
    assert.equal(status.code, 1);
    assert.equal(status.json?.code, 50);
    assert.match(String(status.json?.msg), /no free address/);
    for (const p of pods) assert.equal((await call("DEL", p)).code, 0);
    ns.remove(smallNode);
  });

  it("STATUS is ready on a healthy node", async () => {
    const status = await runPlugin(node, { command: "STATUS" }, JSON.stringify(conf({ cniVersion: "1.1.0" })));
    assert.equal(status.code, 0, status.stdout);
    assert.equal(status.stdout, "");
  });

  it("GC releases every reservation and veth not in cni.dev/valid-attachments", async () => {
    const pods = [newPod(), newPod(), newPod()];
    const ips = [];
    for (const p of pods) ips.push(podIp(await add(p, { cniVersion: "1.1.0" })));
    const gc = await runPlugin(
      node,
      { command: "GC" },
      JSON.stringify(
        conf({ cniVersion: "1.1.0", "cni.dev/valid-attachments": [{ containerID: pods[1].id, ifname: "eth0" }] }),
      ),
    );
    assert.equal(gc.code, 0, gc.stdout);
    assert.deepEqual(reservations(), [ips[1]]);
    const links = nodeLinks();
    assert.match(links, new RegExp(hostVethName(pods[1].id, "eth0")));
    assert.doesNotMatch(links, new RegExp(hostVethName(pods[0].id, "eth0")));
    assert.doesNotMatch(links, new RegExp(hostVethName(pods[2].id, "eth0")));
    assert.ok(ping(pods[1].name, "10.244.1.1"), "the valid pod keeps working");
    await del(pods[1], pods[1].path, { cniVersion: "1.1.0" });
  });

  it("after a reboot, reservations of the previous boot never block a new pod", async () => {
    const store = join(dir.path, "rebooted");
    const oldBoot = join(store, "podnet", "11111111-2222-4333-8444-555555555555");
    mkdirSync(oldBoot, { recursive: true });
    for (let n = 2; n <= 254; n++) writeFileSync(join(oldBoot, `10.244.1.${n}`), `beforereboot${n}\neth0\n`);
    const p = newPod();
    const r = await add(p, { dataDir: store });
    assert.equal(r.code, 0, r.stdout);
    assert.ok(!existsSync(oldBoot));
    await del(p, p.path, { dataDir: store });
  });

  it("refuses a bridge that holds another address instead of changing it", async () => {
    const other = ns.add("other");
    ns.exec(other, "ip", ["link", "add", "cni0", "type", "bridge"]);
    ns.exec(other, "ip", ["addr", "add", "192.168.50.1/24", "dev", "cni0"]);
    const p = newPod();
    const r = await runPlugin(
      other,
      { command: "ADD", containerId: p.id, netns: p.path, ifname: "eth0" },
      JSON.stringify(conf({ dataDir: join(dir.path, "other") })),
    );
    assert.equal(r.code, 1);
    assert.equal(r.json?.code, 7);
    assert.match(
      String(r.json?.msg),
      /bridge cni0 holds 192\.168\.50\.1\/24 but podnet's subnet 10\.244\.1\.0\/24 needs 10\.244\.1\.1\/24/,
    );
    assert.match(ns.exec(other, "ip", ["-o", "addr", "show", "dev", "cni0"]), /192\.168\.50\.1\/24/);
    assert.doesNotMatch(ns.exec(other, "ip", ["-o", "addr", "show", "dev", "cni0"]), /10\.244\.1\.1/);
    ns.remove(other);
  });

  it("rolls back when the pod side fails: no veth, no reservation", async () => {
    const p = newPod();
    // Something else already holds eth0 in the pod: the veth cannot be made.
    ns.exec(p.name, "ip", ["link", "add", "eth0", "type", "veth", "peer", "name", "other0"]);
    const r = await add(p);
    assert.equal(r.code, 1);
    assert.match(String(r.json?.msg), /eth0 already exists/);
    assert.deepEqual(reservations(), []);
    assert.doesNotMatch(nodeLinks(), new RegExp(hostVethName(p.id, "eth0")));
  });

  it("reports an IPAM store it cannot write as an I/O failure (code 5) naming the path, and leaks no veth", async () => {
    const blocker = join(dir.path, "not-a-dir");
    writeFileSync(blocker, "");
    const p = newPod();
    const r = await add(p, { dataDir: join(blocker, "ipam") });
    assert.equal(r.code, 1);
    assert.equal(r.json?.code, 5);
    assert.match(String(r.json?.msg), /IPAM store: cannot .*not-a-dir\/ipam/);
    assert.doesNotMatch(nodeLinks(), new RegExp(hostVethName(p.id, "eth0")));
  });

  it("runs on the pinned Bun and keeps the caller's runtime variables, .env and bunfig.toml away from it", async () => {
    // Each of these would run hook.js inside the plugin if it reached the runtime.
    const cwd = join(dir.path, "hostile-cwd");
    mkdirSync(cwd);
    const marker = join(dir.path, "hook-ran");
    const hook = join(cwd, "hook.js");
    writeFileSync(hook, `require("node:fs").writeFileSync(${JSON.stringify(marker)}, process.argv.join(" "));`);
    writeFileSync(join(cwd, "bunfig.toml"), `preload = [${JSON.stringify(hook)}]\n`);
    writeFileSync(join(cwd, ".env"), "CNI_IFNAME=hijack0\n");
    const extra = {
      BUN_OPTIONS: `--preload ${hook}`,
      NODE_OPTIONS: `--require ${hook}`,
      BUN_INSPECT: "127.0.0.1:1",
      BUN_JSC_useJIT: "0",
      NODE_EXTRA_CA_CERTS: "/nonexistent",
    };
    const p = newPod();
    const r = await runPlugin(
      node,
      { command: "ADD", containerId: p.id, netns: p.path, ifname: "eth0", extra, cwd },
      JSON.stringify(conf()),
    );
    podIp(r);
    assert.equal(existsSync(marker), false, "no preload ran");
    assert.ok(ns.tryExec(p.name, "ip", ["link", "show", "eth0"]).ok, "the .env file did not rename the interface");
    assert.equal(lastLog(p.id)?.runtime, `bun ${pinnedBunVersion()}`);
    assert.equal((await del(p)).code, 0);
  });

  /** One ADD and DEL that succeed and one ADD refused, for the log test. */
  async function logCalls(): Promise<void> {
    const p = newPod();
    podIp(await add(p));
    assert.equal((await add(newPod(), { mtu: 100 })).code, 1);
    await del(p);
  }

  it("appends one structured log line per call", async () => {
    await logCalls();
    const lines = readFileSync(join(dir.path, "podnet.log"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    const add = lines.find((l) => l.verb === "ADD" && l.result === "ok");
    assert.ok(add);
    for (const key of [
      "time",
      "verb",
      "containerId",
      "ifname",
      "netns",
      "ip",
      "result",
      "durationMs",
      "execs",
      "execMs",
      "runtime",
    ])
      assert.ok(key in add, key);
    const failed = lines.find((l) => l.result === "error");
    assert.ok(failed && typeof failed.code === "number" && failed.msg);
  });
});
