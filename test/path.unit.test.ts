// cni/path.ts against node:path on the inputs the plugin meets and on odd ones: the trust
// checks and the IPAM store build their paths with it.
import assert from "node:assert/strict";
import { posix } from "node:path";
import { basename, delimiter, dirname, isAbsolute, join, normalize, resolve } from "../cni/path";

const PATHS = [
  "",
  ".",
  "..",
  "/",
  "//",
  "///",
  "a",
  "a/",
  "/a",
  "/a/",
  "//a",
  "///a",
  "a//b",
  "a/b/",
  "/a/b/c",
  "/var/lib/cni/podnet",
  "/var/log/podnet.log",
  "../a",
  "a/..",
  "a/../..",
  "/..",
  "/../a",
  "./a/./b",
  "a/b/../../..",
  "/a/b/../../../c",
  "...",
  "a/.../b",
  ".a/..b/",
  "/run/netns/cni-1234",
  "a//",
  "/a//b//",
];

describe("cni/path matches node:path (posix)", () => {
  it("normalize, dirname, basename, isAbsolute", () => {
    for (const p of PATHS) {
      assert.equal(normalize(p), posix.normalize(p), `normalize(${JSON.stringify(p)})`);
      assert.equal(dirname(p), posix.dirname(p), `dirname(${JSON.stringify(p)})`);
      assert.equal(basename(p), posix.basename(p), `basename(${JSON.stringify(p)})`);
      assert.equal(isAbsolute(p), posix.isAbsolute(p), `isAbsolute(${JSON.stringify(p)})`);
    }
  });

  it("join and resolve of pairs and triples", () => {
    for (const a of PATHS) {
      for (const b of PATHS) {
        assert.equal(join(a, b), posix.join(a, b), `join(${JSON.stringify(a)}, ${JSON.stringify(b)})`);
        assert.equal(resolve(a, b), posix.resolve(a, b), `resolve(${JSON.stringify(a)}, ${JSON.stringify(b)})`);
        assert.equal(join(a, b, "c"), posix.join(a, b, "c"));
        assert.equal(resolve(a, "..", b), posix.resolve(a, "..", b));
      }
    }
    assert.equal(join(), posix.join());
    assert.equal(resolve(), posix.resolve());
    assert.equal(delimiter, posix.delimiter);
  });
});
