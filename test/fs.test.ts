// cni/fs.ts under Bun, where its calls are libc through bun:ffi, against node:fs under the
// same Bun: results, Stats, Dirents, and errors (code, errno, syscall, path, message).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bunBinDir } from "../lab/bun";

describe("cni/fs.ts on Bun (libc) matches node:fs", () => {
  it("gives the same results and errors for the calls the plugin makes", () => {
    const dir = mkdtempSync(join(tmpdir(), "podnet-fs-"));
    try {
      const ran = spawnSync(join(bunBinDir(), "bun"), [join(__dirname, "helpers", "fs-compare.ts"), dir], {
        encoding: "utf8",
      });
      assert.equal(ran.status, 0, ran.stderr);
      assert.deepEqual(JSON.parse(ran.stdout), []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
