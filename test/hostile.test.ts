// The bundled plugin against a hostile file system, odd inputs and corrupt state, as the
// reference plugins' maintainers would try it. "The node" is a network namespace; the
// machine's own namespace must come out exactly as it went in.
import assert from "node:assert/strict";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { currentBootId } from "../cni/ipam";
import { hostVethName } from "../cni/links";
import {
  BUNDLE,
  hostSnapshot,
  Namespaces,
  type PluginCall,
  type PluginEnv,
  requireRoot,
  runPlugin,
  sh,
  tempDir,
  trySh,
  uniquePrefix,
} from "./helpers/system";

/** A call that has not answered by then is hung: it is killed and the test fails. */
const DEADLINE_MS = 15_000;

describe("podnet plugin against hostile state and input (root)", function () {
  this.timeout(120_000);
  const ns = new Namespaces(uniquePrefix("pnh"));
  let dir: ReturnType<typeof tempDir>;
  let node: string;
  let hostBefore: ReturnType<typeof hostSnapshot>;
  let podCount = 0;

  const dataDir = () => join(dir.path, "ipam");
  const logFile = () => join(dir.path, "podnet.log");
  const conf = (extra: Record<string, unknown> = {}) => ({
    cniVersion: "1.0.0",
    name: "podnet",
    type: "podnet",
    subnet: "10.244.1.0/24",
    clusterCidr: "10.244.0.0/16",
    dataDir: dataDir(),
    logFile: logFile(),
    ...extra,
  });
  const storeDir = (data = dataDir()) => join(data, "podnet", currentBootId());
  /** Reservation and attachment files (regular files only: the tests plant other kinds). */
  const reservations = (data = dataDir()) =>
    existsSync(storeDir(data))
      ? readdirSync(storeDir(data), { withFileTypes: true })
          .filter((f) => f.isFile() && /^\d+\.\d+\.\d+\.\d+$|^\.attachment\./.test(f.name))
          .map((f) => f.name)
      : [];
  const nodeLinks = () => ns.exec(node, "ip", ["-o", "link", "show"]);
  const logLines = () =>
    existsSync(logFile())
      ? readFileSync(logFile(), "utf8")
          .trim()
          .split("\n")
          .map((l) => JSON.parse(l) as Record<string, unknown>)
      : [];

  function newPod(): { name: string; path: string; id: string } {
    podCount += 1;
    const name = ns.add(`p${podCount}`);
    return { name, path: `/var/run/netns/${name}`, id: `ctr${podCount}` };
  }

  /** Runs the plugin and fails the test (after killing it) when it does not answer in time. */
  async function call(env: PluginEnv, stdin: Record<string, unknown>, onNs = node): Promise<PluginCall> {
    let hung = false;
    let timer: NodeJS.Timeout | undefined;
    const result = await runPlugin(onNs, env, JSON.stringify(stdin), (pid) => {
      timer = setTimeout(() => {
        hung = true;
        trySh("kill", ["-9", String(pid)]);
      }, DEADLINE_MS);
    });
    clearTimeout(timer);
    assert.ok(!hung, `${env.command} hung for ${DEADLINE_MS} ms`);
    return result;
  }
  const add = (pod: { id: string; path: string }, extra: Record<string, unknown> = {}, ifname = "eth0") =>
    call({ command: "ADD", containerId: pod.id, netns: pod.path, ifname }, conf(extra));
  const del = (pod: { id: string; path: string }, extra: Record<string, unknown> = {}) =>
    call({ command: "DEL", containerId: pod.id, netns: pod.path, ifname: "eth0" }, conf(extra));
  const check = (pod: { id: string; path: string }, prevResult: unknown) =>
    call({ command: "CHECK", containerId: pod.id, netns: pod.path, ifname: "eth0" }, conf({ prevResult }));
  const status = () => call({ command: "STATUS" }, conf({ cniVersion: "1.1.0" }));
  function ok(result: PluginCall): PluginCall {
    assert.equal(result.code, 0, result.stdout + result.stderr);
    return result;
  }
  function refused(result: PluginCall, code: number, msg: RegExp): void {
    assert.equal(result.code, 1, result.stdout);
    assert.equal(result.json?.code, code, result.stdout);
    assert.match(String(result.json?.msg), msg);
  }

  before(function () {
    requireRoot("the hostile-state suite");
    assert.ok(existsSync(BUNDLE), `${BUNDLE} is missing: run "npm run build" first`);
    hostBefore = hostSnapshot();
    dir = tempDir("podnet-hostile");
    node = ns.add("node");
    ns.exec(node, "ip", ["link", "set", "lo", "up"]);
  });

  after(() => {
    ns.cleanup();
    dir?.cleanup();
    if (hostBefore) assert.deepEqual(hostSnapshot(), hostBefore, "the host namespace is left as it was");
  });

  // A failed test may leave reservations: the next one starts from an empty store.
  afterEach(() => sh("rm", ["-rf", dataDir()]));

  it("a directory named like an address blocks no DEL, CHECK or STATUS, and the log names it", async () => {
    const p = newPod();
    const r = ok(await add(p));
    const junk = join(storeDir(), "10.244.6.42");
    const junkInRange = join(storeDir(), "10.244.1.42");
    for (const d of [junk, junkInRange]) {
      mkdirSync(d);
      writeFileSync(join(d, "x"), "");
    }
    try {
      ok(await check(p, r.json));
      ok(await status());
      ok(await call({ command: "DEL", containerId: "never-added", netns: "", ifname: "eth0" }, conf()));
      ok(await del(p));
      assert.deepEqual(reservations(), []);
      const last = logLines().pop();
      assert.deepEqual(last?.warnings, [`skipped ${junkInRange}: a directory, not a reservation file`]);
      assert.ok(existsSync(join(junkInRange, "x")), "its content is left for the operator");
    } finally {
      sh("rm", ["-rf", junk, junkInRange]);
    }
  });

  it("a FIFO named like an address or as the round-robin hint makes no call wait", async () => {
    const p = newPod();
    const first = ok(await add(p));
    const fifos = [join(storeDir(), "10.244.1.77"), join(storeDir(), "last_reserved_ip")];
    sh("rm", ["-f", fifos[1]]);
    for (const f of fifos) sh("mkfifo", [f]);
    try {
      ok(await check(p, first.json));
      ok(await del(p));
      const q = newPod();
      ok(await add(q));
      ok(await status());
      ok(await del(q));
      assert.deepEqual(reservations(), []);
      assert.match(JSON.stringify(logLines().pop()?.warnings), /10\.244\.1\.77: a FIFO/);
    } finally {
      sh("rm", ["-f", ...fifos]);
    }
  });

  it("an ADD that hits ENOSPC leaves nothing: no attachment file, no reservation, no veth", async () => {
    const mount = join(dir.path, "full");
    mkdirSync(mount);
    sh("mount", ["-t", "tmpfs", "-o", "size=64k,mode=0755", "podnet-test-full", mount]);
    try {
      const data = join(mount, "ipam");
      mkdirSync(storeDir(data), { recursive: true });
      trySh("dd", ["if=/dev/zero", `of=${join(mount, "filler")}`, "bs=4096"]);
      const p = newPod();
      refused(await add(p, { dataDir: data }), 5, /IPAM store: cannot write .*\.attachment\.ctr\d+:eth0: ENOSPC/);
      assert.deepEqual(readdirSync(storeDir(data)), [], "not even a 0-byte attachment file");
      assert.doesNotMatch(nodeLinks(), new RegExp(hostVethName(p.id, "eth0")));
    } finally {
      sh("umount", [mount]);
    }
  });

  it("refuses a dataDir others can write (code 5 naming it and the fix) before doing anything", async () => {
    const data = join(dir.path, "shared-ipam");
    mkdirSync(data, { mode: 0o755 });
    chmodSync(data, 0o777);
    const p = newPod();
    const r = await add(p, { dataDir: data });
    refused(r, 5, new RegExp(`IPAM store: cannot use dataDir ${data}: ${data} is writable by group and others`));
    assert.match(String(r.json?.details), /chmod go-w/);
    assert.deepEqual(readdirSync(data), [], "nothing made in it");
    assert.doesNotMatch(nodeLinks(), /pn[0-9a-f]{13}/);
  });

  it("never appends to what a symlinked logFile points at", async () => {
    const target = join(dir.path, "target");
    writeFileSync(target, "precious\n");
    const link = join(dir.path, "linked.log");
    symlinkSync(target, link);
    ok(await call({ command: "DEL", containerId: "c-log", netns: "", ifname: "eth0" }, conf({ logFile: link })));
    assert.equal(readFileSync(target, "utf8"), "precious\n");
  });

  it("refuses a CNI_IFNAME ip -batch would misread (code 4) before reserving, and logs it to the configured logFile", async () => {
    for (const ifname of ['"e"', '"e"up', "e#x"]) {
      const p = newPod();
      refused(await add(p, {}, ifname), 4, /^CNI_IFNAME .* contains a quote, '#'/);
      assert.deepEqual(reservations(), []);
      assert.match(ns.exec(p.name, "ip", ["-o", "link"]), /^1: lo:[^\n]*\n$/, "the pod has only its loopback");
      const last = logLines().pop();
      assert.equal(last?.containerId, undefined);
      assert.equal(last?.code, 4, "the CNI_* error is in the config's logFile");
      ns.remove(p.name);
    }
  });

  it("refuses a CNI_NETNS that is a regular file or a directory (code 4) before reserving", async () => {
    const file = join(dir.path, "not-a-netns");
    writeFileSync(file, "");
    for (const [netns, kind] of [
      [file, "a regular file"],
      [dir.path, "a directory"],
    ]) {
      const r = await call({ command: "ADD", containerId: "c-netns", netns, ifname: "eth0" }, conf());
      refused(r, 4, new RegExp(`^CNI_NETNS ${netns} is not a network namespace but ${kind}`));
      assert.deepEqual(reservations(), []);
      assert.equal(logLines().pop()?.execs, 0, "nothing was run");
    }
    assert.doesNotMatch(nodeLinks(), /pn[0-9a-f]{13}/);
  });

  it("refuses a bridge name taken by another kind of link with code 7, leaving it as it was", async () => {
    const other = ns.add("veth-node");
    ns.exec(other, "ip", ["link", "add", "cni0", "type", "veth", "peer", "name", "peer0"]);
    const before = ns.exec(other, "ip", ["-o", "link", "show"]);
    const p = newPod();
    const r = await call({ command: "ADD", containerId: p.id, netns: p.path, ifname: "eth0" }, conf(), other);
    refused(r, 7, /cni0 exists but is a veth device/);
    assert.match(String(r.json?.details), /set "bridge" in the network config to a free name/);
    assert.equal(ns.exec(other, "ip", ["-o", "link", "show"]), before, "no link added, cni0 untouched");
    assert.match(ns.exec(p.name, "ip", ["-o", "link"]), /^1: lo:[^\n]*\n$/);
    ns.remove(other);
  });

  it("serves a 300-character CNI_CONTAINERID: ADD, CHECK, DEL", async () => {
    const p = { ...newPod(), id: `a${"b".repeat(299)}` };
    const r = ok(await add(p));
    const ip = (r.json!.ips as Array<{ address: string }>)[0].address.split("/")[0];
    assert.equal(readFileSync(join(storeDir(), ip), "utf8"), `${p.id}\neth0\n`, "the reservation names the whole id");
    ok(await check(p, r.json));
    ok(await del(p));
    assert.deepEqual(reservations(), []);
    assert.doesNotMatch(nodeLinks(), new RegExp(hostVethName(p.id, "eth0")));
  });

  it("GC takes SPEC 1.1.0's cni.dev/attachments as well as libcni's cni.dev/valid-attachments", async () => {
    const pods = [newPod(), newPod()];
    const v11 = { cniVersion: "1.1.0" };
    const ips = [];
    for (const p of pods)
      ips.push((ok(await add(p, v11)).json!.ips as Array<{ address: string }>)[0].address.split("/")[0]);
    ok(
      await call(
        { command: "GC" },
        conf({ ...v11, "cni.dev/attachments": [{ containerID: pods[1].id, ifname: "eth0" }] }),
      ),
    );
    assert.deepEqual(
      reservations().filter((f) => !f.startsWith(".")),
      [ips[1]],
    );
    assert.doesNotMatch(nodeLinks(), new RegExp(hostVethName(pods[0].id, "eth0")));
    assert.match(nodeLinks(), new RegExp(hostVethName(pods[1].id, "eth0")));
    ok(
      await call(
        { command: "GC" },
        conf({
          ...v11,
          "cni.dev/attachments": [],
          "cni.dev/valid-attachments": [{ containerID: pods[1].id, ifname: "eth0" }],
        }),
      ),
    );
    assert.deepEqual(
      reservations().filter((f) => !f.startsWith(".")),
      [ips[1]],
      "kept when either list names it",
    );
    ok(await del(pods[1], v11));
    assert.deepEqual(reservations(), []);
  });
});
