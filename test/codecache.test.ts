// The plugin's V8 code cache store (cni/codecache.ts): where a call finds its file, when
// a directory is trusted, atomic saves, and which old files go.
import assert from "node:assert/strict";
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  CODE_CACHE_DIR_ENV,
  CODE_CACHE_SWITCH_ENV,
  DEFAULT_CODE_CACHE_DIR,
  codeCacheFileName,
  openCodeCache,
  saveCodeCache,
  untrustedReason,
} from "../cni/codecache";
import { tempDir } from "./helpers/system";

const BODY = "0123456789abcdef";
const euid = process.geteuid?.() ?? 0;

describe("V8 code cache store", () => {
  let dir: ReturnType<typeof tempDir>;
  beforeEach(() => {
    dir = tempDir("podnet-cc");
  });
  afterEach(() => dir.cleanup());

  const env = (cacheDir: string, verb = "ADD", extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
    CNI_COMMAND: verb,
    [CODE_CACHE_DIR_ENV]: cacheDir,
    ...extra,
  });
  const bytes = (text: string) => () => Buffer.from(text);

  it("test runs point the plugin at their own directory, never /var/cache/podnet", () => {
    assert.ok(process.env[CODE_CACHE_DIR_ENV], "test/hooks.ts sets it");
    assert.notEqual(process.env[CODE_CACHE_DIR_ENV], DEFAULT_CODE_CACHE_DIR);
  });

  it("names one file per bundle, Node version, architecture and verb", () => {
    assert.equal(codeCacheFileName(BODY, "ADD"), `${BODY}-node${process.versions.node}-${process.arch}-ADD.v8cache`);
    assert.notEqual(codeCacheFileName(BODY, "ADD"), codeCacheFileName(BODY, "DEL"));
    assert.notEqual(codeCacheFileName(BODY, "ADD"), codeCacheFileName("fedcba9876543210", "ADD"));
  });

  it("trusts only a directory of this user that no one else can write", () => {
    assert.equal(untrustedReason(0o40700, euid, true, euid), undefined);
    assert.equal(untrustedReason(0o40755, euid, true, euid), undefined);
    assert.match(untrustedReason(0o40777, euid, true, euid) ?? "", /writable by group or others \(mode 777\)/);
    assert.match(untrustedReason(0o40770, euid, true, euid) ?? "", /mode 770/);
    assert.match(untrustedReason(0o40700, euid + 1, true, euid) ?? "", /owned by uid/);
    assert.match(untrustedReason(0o120777, euid, false, euid) ?? "", /not a directory/);
  });

  it("is off when PODNET_CODE_CACHE=off or the verb is not one", () => {
    assert.deepEqual(openCodeCache(env(dir.path, "ADD", { [CODE_CACHE_SWITCH_ENV]: "off" }), BODY), { state: "off" });
    assert.deepEqual(openCodeCache(env(dir.path, "add; rm -rf /"), BODY), { state: "off" });
    assert.deepEqual(openCodeCache({ [CODE_CACHE_DIR_ENV]: dir.path }, BODY), { state: "off" });
  });

  it("defaults to /var/cache/podnet", () => {
    const cache = openCodeCache({ CNI_COMMAND: "ADD" }, BODY);
    assert.equal(cache.dir, DEFAULT_CODE_CACHE_DIR);
    assert.equal(cache.file, join(DEFAULT_CODE_CACHE_DIR, codeCacheFileName(BODY, "ADD")));
  });

  it("misses without a directory or file, and reads the file once saved", () => {
    const cacheDir = join(dir.path, "cache");
    const first = openCodeCache(env(cacheDir), BODY);
    assert.equal(first.state, "miss");
    assert.equal(first.data, undefined);
    assert.equal(first.file, join(cacheDir, codeCacheFileName(BODY, "ADD")));

    assert.equal(saveCodeCache(first, bytes("bytecode"), false), true);
    assert.equal(statSync(cacheDir).mode & 0o777, 0o700, "the directory is made 0700");
    assert.equal(statSync(first.file as string).mode & 0o777, 0o600, "the file is 0600");
    assert.deepEqual(readdirSync(cacheDir), [codeCacheFileName(BODY, "ADD")], "no temporary file is left");

    const second = openCodeCache(env(cacheDir), BODY);
    assert.equal(second.data?.toString(), "bytecode");
    assert.equal(openCodeCache(env(cacheDir, "DEL"), BODY).data, undefined, "each verb has its own file");
  });

  it("keeps the file another call saved first, unless told to replace it (V8 rejected it)", () => {
    const cache = openCodeCache(env(dir.path), BODY);
    assert.equal(saveCodeCache(cache, bytes("first"), false), true);
    let asked = false;
    const second = () => {
      asked = true;
      return Buffer.from("second");
    };
    assert.equal(saveCodeCache(cache, second, false), false);
    assert.equal(asked, false, "no bytecode is made when it would not be saved");
    assert.equal(readFileSync(cache.file as string, "utf8"), "first");
    assert.equal(saveCodeCache(cache, bytes("replacement"), true), true);
    assert.equal(readFileSync(cache.file as string, "utf8"), "replacement");
  });

  it("neither reads nor writes a directory others can write, or a symlink to one", () => {
    const open = join(dir.path, "open");
    mkdirSync(open);
    chmodSync(open, 0o777);
    writeFileSync(join(open, codeCacheFileName(BODY, "ADD")), "planted");
    const cache = openCodeCache(env(open), BODY);
    assert.equal(cache.state, "untrusted");
    assert.equal(cache.data, undefined);
    assert.equal(saveCodeCache({ state: "miss", dir: open, file: join(open, "x.v8cache"), current: BODY }, bytes("b"), true), false);
    assert.equal(existsSync(join(open, "x.v8cache")), false);

    const link = join(dir.path, "link");
    const real = join(dir.path, "real");
    mkdirSync(real, { mode: 0o700 });
    symlinkSync(real, link);
    assert.equal(openCodeCache(env(link), BODY).state, "untrusted");
  });

  it("removes other builds' and Node versions' files once an hour old, and dead writers' temporary files", () => {
    const cache = openCodeCache(env(dir.path), BODY);
    const old = (Date.now() - 2 * 3_600_000) / 1000;
    const files = {
      otherOld: "ffffffffffffffff-node18.19.1-x64-ADD.v8cache",
      otherRecent: "eeeeeeeeeeeeeeee-node20.0.0-x64-ADD.v8cache",
      sameVerbOtherNode: `${BODY}-node0.0.1-${process.arch}-ADD.v8cache`,
      currentOld: codeCacheFileName(BODY, "DEL"),
      tempOld: `${codeCacheFileName(BODY, "ADD")}.4242.tmp`,
      unrelated: "README",
    };
    for (const name of Object.values(files)) writeFileSync(join(dir.path, name), "x");
    for (const name of [files.otherOld, files.sameVerbOtherNode, files.currentOld, files.tempOld, files.unrelated]) {
      utimesSync(join(dir.path, name), old, old);
    }
    assert.equal(saveCodeCache(cache, bytes("bytecode"), false), true);
    assert.deepEqual(
      readdirSync(dir.path).sort(),
      [codeCacheFileName(BODY, "ADD"), files.currentOld, files.otherRecent, files.unrelated].sort(),
    );
  });
});
