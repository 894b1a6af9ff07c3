// Mocha root hooks, loaded for every test file (.mocharc.json "require").
//
// The plugin keeps V8's code cache in /var/cache/podnet (cni/codecache.ts). Tests point it
// at a directory of their own, inherited by everything they start (the plugin, podman,
// ctr), and remove it at the end: a test run leaves nothing in /var/cache.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CODE_CACHE_DIR_ENV } from "../cni/codecache";

let codeCacheDir: string | undefined;

export const mochaHooks = {
  beforeAll(): void {
    codeCacheDir = mkdtempSync(join(tmpdir(), "podnet-codecache-"));
    process.env[CODE_CACHE_DIR_ENV] = codeCacheDir;
  },
  afterAll(): void {
    if (codeCacheDir) rmSync(codeCacheDir, { recursive: true, force: true });
    delete process.env[CODE_CACHE_DIR_ENV];
  },
};
