import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CniError } from "../cni/errors";
import { IpamStore, currentBootId } from "../cni/ipam";
import { parseCidr } from "../cni/ipv4";
import { REPO, tempDir } from "./helpers/system";

const SUBNET = parseCidr("10.244.1.0/24");
const OLD_BOOT = "00000000-0000-4000-8000-000000000001";

function runWorker(dataDir: string, prefix: string, count: number): Promise<{ got: string[]; errors: string[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", join(REPO, "test/helpers/ipam-worker.ts"), dataDir, "podnet", "10.244.1.0/24", prefix, String(count)], { cwd: REPO });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.on("close", (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`worker exited ${code}: ${err}`))));
  });
}

describe("IPAM store", () => {
  let dir: ReturnType<typeof tempDir>;
  beforeEach(() => (dir = tempDir("podnet-ipam")));
  afterEach(() => dir.cleanup());

  it("hands out .2 first, never network, gateway or broadcast, one file per IP naming the holder", () => {
    const store = new IpamStore(dir.path, "podnet", SUBNET);
    const first = store.allocate("c1", "eth0");
    assert.deepEqual(first, { ip: "10.244.1.2", reused: false });
    assert.equal(readFileSync(join(store.dir, "10.244.1.2"), "utf8"), "c1\neth0\n");
    assert.equal(store.dir, join(dir.path, "podnet", currentBootId()));
    const all = new Set([first.ip]);
    for (let i = 2; i <= 253; i++) all.add(store.allocate(`c${i}`, "eth0").ip);
    assert.equal(all.size, 253);
    for (const reserved of ["10.244.1.0", "10.244.1.1", "10.244.1.255"]) assert.ok(!all.has(reserved), reserved);
  });

  it("keeps the attachment file as the reservation's second name; a leftover one without an address does not block", () => {
    const store = new IpamStore(dir.path, "podnet", SUBNET);
    const { ip } = store.allocate("c1", "eth0");
    const index = join(store.dir, ".attachment.c1:eth0");
    assert.equal(lstatSync(index).ino, lstatSync(join(store.dir, ip)).ino);
    assert.equal(lstatSync(index).nlink, 2);
    // An ADD killed after writing its attachment file, before reserving: the next ADD starts over.
    writeFileSync(join(store.dir, ".attachment.c2:eth0"), "c2\neth0\n");
    assert.deepEqual(store.allocate("c2", "eth0"), { ip: "10.244.1.3", reused: false });
    assert.deepEqual(store.release("c1", "eth0"), [ip]);
    assert.ok(!existsSync(index), "release removes the attachment file too");
    // DEL after a kill before the reservation also clears the leftover.
    writeFileSync(join(store.dir, ".attachment.c3:eth0"), "c3\neth0\n");
    assert.deepEqual(store.release("c3", "eth0"), []);
    assert.ok(!existsSync(join(store.dir, ".attachment.c3:eth0")));
    // Killed between creating the file and writing it: empty, still released by name.
    writeFileSync(join(store.dir, ".attachment.c4:eth0"), "");
    assert.deepEqual(store.release("c4", "eth0"), []);
    assert.ok(!existsSync(join(store.dir, ".attachment.c4:eth0")));
  });

  it("gives a second ADD of the same container and ifname the same address", () => {
    const store = new IpamStore(dir.path, "podnet", SUBNET);
    const a = store.allocate("c1", "eth0");
    assert.deepEqual(store.allocate("c1", "eth0"), { ip: a.ip, reused: true });
    assert.notEqual(store.allocate("c1", "net1").ip, a.ip, "another ifname is another attachment");
    assert.equal(store.list().length, 2);
  });

  it("is round-robin: a freed address is not handed out again at once", () => {
    const store = new IpamStore(dir.path, "podnet", SUBNET);
    const a = store.allocate("c1", "eth0").ip;
    store.release("c1", "eth0");
    assert.notEqual(store.allocate("c2", "eth0").ip, a);
  });

  it("keeps the round-robin hint in one fixed-width line, overwritten in place", () => {
    const store = new IpamStore(dir.path, "podnet", SUBNET);
    const hint = join(store.dir, "last_reserved_ip");
    store.allocate("c1", "eth0");
    writeFileSync(hint, "10.244.1.200\n");
    assert.equal(store.allocate("c2", "eth0").ip, "10.244.1.201", "the next search starts after the hint");
    assert.equal(readFileSync(hint, "utf8"), "10.244.1.201   \n");
    writeFileSync(hint, "10.244.1.9\nsomething an older version left behind\n");
    assert.equal(store.allocate("c3", "eth0").ip, "10.244.1.10", "only the first line counts");
    assert.equal(readFileSync(hint, "utf8").split("\n")[0], "10.244.1.10    ");
  });

  it("releases by container id and ifname only: freeing .2 leaves .20-.29 alone", () => {
    const store = new IpamStore(dir.path, "podnet", SUBNET);
    for (let i = 0; i < 30; i++) store.allocate(`c${i}`, "eth0");
    assert.ok(store.find("c0", "eth0")?.ip === "10.244.1.2");
    assert.deepEqual(store.release("c0", "eth0"), ["10.244.1.2"]);
    assert.deepEqual(store.release("c0", "eth0"), [], "idempotent");
    assert.deepEqual(store.release("c1", "eth1"), [], "other ifname holds nothing");
    const left = store.list().map((r) => r.ip);
    assert.equal(left.length, 29);
    for (let n = 20; n <= 29; n++) assert.ok(left.includes(`10.244.1.${n}`));
  });

  it("refuses an exhausted subnet with a clear error naming it, and keeps every reservation", () => {
    const small = parseCidr("10.244.1.0/29");
    const store = new IpamStore(dir.path, "podnet", small);
    const got = [1, 2, 3, 4, 5].map((i) => store.allocate(`c${i}`, "eth0").ip);
    assert.deepEqual(got, ["10.244.1.2", "10.244.1.3", "10.244.1.4", "10.244.1.5", "10.244.1.6"]);
    assert.throws(
      () => store.allocate("c6", "eth0"),
      (e: unknown) => e instanceof CniError && e.code === 100 && /no free address in 10\.244\.1\.0\/29: all 5 pod addresses are reserved/.test(e.message),
    );
    assert.equal(store.list().length, 5);
    assert.deepEqual(readdirSync(store.dir).filter((f) => f === ".attachment.c6:eth0"), [], "the refused attachment leaves no file");
  });

  it("never lets a reservation from an earlier boot block a pod, and drops that boot's directory", () => {
    const oldDir = join(dir.path, "podnet", OLD_BOOT);
    mkdirSync(oldDir, { recursive: true });
    for (let n = 2; n <= 254; n++) writeFileSync(join(oldDir, `10.244.1.${n}`), `dead${n}\neth0\n`);
    const store = new IpamStore(dir.path, "podnet", SUBNET);
    assert.equal(store.allocate("fresh", "eth0").ip, "10.244.1.2");
    assert.ok(!existsSync(oldDir), "old boot's reservations are dropped");
  });

  it("GC releases every reservation not in the valid attachments", () => {
    const store = new IpamStore(dir.path, "podnet", SUBNET);
    for (const c of ["a", "b", "c"]) store.allocate(c, "eth0");
    const released = store.gc([{ containerId: "b", ifname: "eth0" }]);
    assert.deepEqual(released.map((r) => r.containerId).sort(), ["a", "c"]);
    assert.deepEqual(store.list().map((r) => r.containerId), ["b"]);
    assert.deepEqual(readdirSync(store.dir).filter((f) => f.startsWith(".attachment.")), [".attachment.b:eth0"]);
  });

  it("never gives one address twice when 12 processes allocate 20 each at once", async function () {
    this.timeout(60_000);
    const results = await Promise.all(Array.from({ length: 12 }, (_, p) => runWorker(dir.path, `p${p}`, 20)));
    const got = results.flatMap((r) => r.got);
    const errors = results.flatMap((r) => r.errors);
    assert.deepEqual(errors, []);
    assert.equal(got.length, 240);
    assert.equal(new Set(got).size, 240, "every address distinct");
    const store = new IpamStore(dir.path, "podnet", SUBNET);
    assert.equal(store.list().length, 240);
    for (const r of store.list()) assert.match(r.containerId, /^p\d+-\d+$/);
  });

  it("under contention, exhaustion is an error for exactly the surplus and nothing is lost", async function () {
    this.timeout(60_000);
    const results = await Promise.all(Array.from({ length: 8 }, (_, p) => runWorker(dir.path, `q${p}`, 40)));
    const got = results.flatMap((r) => r.got);
    const errors = results.flatMap((r) => r.errors);
    assert.equal(got.length, 253);
    assert.equal(new Set(got).size, 253);
    assert.equal(errors.length, 320 - 253);
    for (const e of errors) assert.match(e, /no free address in 10\.244\.1\.0\/24/);
  });
});
