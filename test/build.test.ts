// `npm run build` after a build as root: the real build script, run on a copy of the
// checkout owned by an ordinary user (nobody), first as root (as `sudo npm run lab` does)
// and then as that user. Needs root (to build as root, chown and switch users).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chownSync, cpSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const ROOT = join(__dirname, "..");
const NOBODY = 65534;

function build(checkout: string, asNobody: boolean): { status: number | null; out: string } {
  const node = process.execPath;
  const argv = asNobody
    ? ["setpriv", `--reuid=${NOBODY}`, `--regid=${NOBODY}`, "--clear-groups", node, "cni/build.mjs"]
    : [node, "cni/build.mjs"];
  const ran = spawnSync(argv[0], argv.slice(1), {
    cwd: checkout,
    encoding: "utf8",
    env: { PATH: process.env.PATH, HOME: "/nonexistent" },
  });
  return { status: ran.status, out: `${ran.stdout}${ran.stderr}` };
}

describe("npm run build after a build as root @root", function () {
  this.timeout(60_000);
  let checkout = "";

  before(function () {
    if (process.getuid?.() !== 0)
      assert.fail("this test builds as root and as another user: run it as root (sudo npm test)");
    checkout = mkdtempSync(join(tmpdir(), "podnet-build-"));
    cpSync(join(ROOT, "cni"), join(checkout, "cni"), { recursive: true });
    symlinkSync(join(ROOT, "node_modules"), join(checkout, "node_modules"));
    spawnSync("chown", ["-R", `${NOBODY}:${NOBODY}`, checkout]);
  });

  after(() => {
    if (checkout) rmSync(checkout, { recursive: true, force: true });
  });

  it("a build as root gives dist/ and dist/podnet to the checkout's owner, 0755", () => {
    const ran = build(checkout, false);
    assert.equal(ran.status, 0, ran.out);
    for (const path of [join(checkout, "dist"), join(checkout, "dist", "podnet")]) {
      const st = statSync(path);
      assert.equal(st.uid, NOBODY, `${path} is owned by ${st.uid}`);
      assert.equal(st.gid, NOBODY, `${path} has group ${st.gid}`);
    }
    assert.equal(statSync(join(checkout, "dist", "podnet")).mode & 0o777, 0o755);
  });

  it("the user's next build replaces a root-owned dist/podnet left by an older build", () => {
    const bundle = join(checkout, "dist", "podnet");
    chownSync(bundle, 0, 0);
    const before = statSync(bundle).ino;
    const ran = build(checkout, true);
    assert.equal(ran.status, 0, `the build as the user failed:\n${ran.out}`);
    const st = statSync(bundle);
    assert.equal(st.uid, NOBODY);
    assert.notEqual(st.ino, before, "the file must have been replaced, not rewritten");
    assert.equal(st.mode & 0o777, 0o755);
  });

  it("a dist/ the user cannot write is refused with the command that fixes it", () => {
    const dist = join(checkout, "dist");
    chownSync(dist, 0, 0);
    try {
      const ran = build(checkout, true);
      assert.notEqual(ran.status, 0);
      assert.match(ran.out, /is not writable by this user/);
      assert.match(ran.out, /fix: sudo chown -R "\$\(id -u\):\$\(id -g\)" .*dist/);
      assert.doesNotMatch(ran.out, /at .*build\.mjs/, "no stack trace");
    } finally {
      chownSync(dist, NOBODY, NOBODY);
    }
  });

  it("a build as root of a checkout owned by root leaves it root's", () => {
    const own = join(checkout, "rootowned");
    mkdirSync(own);
    cpSync(join(checkout, "cni"), join(own, "cni"), { recursive: true });
    symlinkSync(join(ROOT, "node_modules"), join(own, "node_modules"));
    spawnSync("chown", ["-R", "0:0", own]);
    const ran = build(own, false);
    assert.equal(ran.status, 0, ran.out);
    assert.equal(statSync(join(own, "dist", "podnet")).uid, 0);
  });
});
