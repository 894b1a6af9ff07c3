// V8 code cache for the plugin body. A CNI plugin is a new process per call, so without a
// cache V8 parses and compiles the same functions on every call (measured with
// npm run bench:cni: 1 to 2.5 ms of an ADD). The launcher (cni/launcher.ts) compiles the
// body with the bytecode a previous call of the same verb saved, and saves it after a
// successful call when there was none.
// The cache is only an accelerator: any problem with it means compiling as without it.
import { Stats, existsSync, linkSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const DEFAULT_CODE_CACHE_DIR = "/var/cache/podnet";
/** Environment: `off` disables the cache. */
export const CODE_CACHE_SWITCH_ENV = "PODNET_CODE_CACHE";
/** Environment: another directory for the cache (tests, read-only /var). */
export const CODE_CACHE_DIR_ENV = "PODNET_CODE_CACHE_DIR";

/**
 * What the call found, logged as `codeCache`:
 * hit: V8 accepted the saved bytecode; miss: none saved yet for this bundle, Node and verb;
 * rejected: V8 refused it (another V8 version or flags) and a successful call replaces it;
 * off: disabled by PODNET_CODE_CACHE=off; untrusted: the directory is not owned by this
 * user or is writable by others, so it is neither read nor written.
 */
export type CodeCacheState = "hit" | "miss" | "rejected" | "off" | "untrusted";

export interface CodeCache {
  state: Exclude<CodeCacheState, "hit" | "rejected">;
  dir?: string;
  file?: string;
  /** File names of this bundle on this Node: every other cache file in `dir` is stale. */
  current?: string;
  /** The bytes to hand to V8, when a cache file was there. */
  data?: Buffer;
}

const VERB = /^[A-Z]{1,16}$/;
const CACHE_SUFFIX = ".v8cache";
/** Temporary files of a writer killed between write and rename are removed after this. */
const STALE_TEMP_MS = 60_000;
/**
 * Other builds' and Node versions' caches are removed once this old, not at once: two
 * builds in use side by side (an upgrade in progress) would otherwise keep deleting each
 * other's file and compile on every call.
 */
const STALE_CACHE_MS = 3_600_000;

/**
 * One file per bundle, Node version, architecture and verb: the bundle id is a hash of the
 * body, so a new plugin build never reads an old build's bytecode (V8 itself only checks
 * the source length), and each verb's cache holds the functions that verb runs.
 */
export function codeCacheFileName(bodyId: string, verb: string): string {
  return `${codeCachePrefix(bodyId)}${verb}${CACHE_SUFFIX}`;
}

function codeCachePrefix(bodyId: string): string {
  return `${bodyId}-node${process.versions.node}-${process.arch}-`;
}

/** Why `dir` must not be used, or undefined when it is this user's and only this user's to write. */
export function untrustedReason(mode: number, uid: number, isDirectory: boolean, euid: number): string | undefined {
  if (!isDirectory) return "not a directory";
  if (uid !== euid) return `owned by uid ${uid}, not ${euid}`;
  if ((mode & 0o022) !== 0) return `writable by group or others (mode ${(mode & 0o777).toString(8)})`;
  return undefined;
}

/** Whether a directory lstat(2) described may hold this user's bytecode. */
function trusted(info: Stats): boolean {
  return untrustedReason(info.mode, info.uid, info.isDirectory(), process.geteuid?.() ?? info.uid) === undefined;
}

/** Finds this call's cache file and reads it when it is there and may be trusted. */
export function openCodeCache(env: NodeJS.ProcessEnv, bodyId: string): CodeCache {
  if (env[CODE_CACHE_SWITCH_ENV] === "off") return { state: "off" };
  const verb = env.CNI_COMMAND ?? "";
  // An unknown verb fails before doing anything worth caching.
  if (!VERB.test(verb)) return { state: "off" };
  const dir = env[CODE_CACHE_DIR_ENV] || DEFAULT_CODE_CACHE_DIR;
  const found: CodeCache = { state: "miss", dir, file: join(dir, codeCacheFileName(bodyId, verb)), current: codeCachePrefix(bodyId) };
  let info;
  try {
    info = lstatSync(dir);
  } catch {
    return found;
  }
  if (!trusted(info)) return { state: "untrusted" };
  try {
    return { ...found, data: readFileSync(found.file as string) };
  } catch {
    return found;
  }
}

/**
 * Saves `data` as this call's cache file. Atomic (write then link or rename), so a
 * concurrent reader sees the old file, the new one or none, never half of one. When
 * `replace` is false and another call saved first, its file stays. Removes old files of
 * other bundles and Node versions. Never throws.
 */
export function saveCodeCache(cache: CodeCache, data: () => Buffer, replace: boolean): boolean {
  const { dir, file, current } = cache;
  if (!dir || !file || !current) return false;
  const temp = `${file}.${process.pid}.tmp`;
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (!trusted(lstatSync(dir))) return false;
    if (!replace && existsSync(file)) return false;
    writeFileSync(temp, data(), { mode: 0o600, flag: "wx" });
    if (replace) {
      renameSync(temp, file);
    } else {
      try {
        linkSync(temp, file);
      } finally {
        rmSync(temp, { force: true });
      }
    }
  } catch {
    rmSync(temp, { force: true });
    return false;
  }
  removeStaleFiles(dir, current);
  return true;
}

/** Other bundles' or Node versions' caches, and temporary files of killed writers. */
function removeStaleFiles(dir: string, current: string): void {
  try {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      const maxAge = name.endsWith(".tmp") ? STALE_TEMP_MS : name.endsWith(CACHE_SUFFIX) && !name.startsWith(current) ? STALE_CACHE_MS : undefined;
      if (maxAge !== undefined && Date.now() - lstatSync(path).mtimeMs > maxAge) rmSync(path, { force: true });
    }
  } catch {
    // Best effort: the next save tries again.
  }
}
