// Entry point of dist/podnet (installed as /opt/cni/bin/podnet). The plugin itself (the
// bundle of cni/main.ts) is inlined by build.mjs as a string and compiled here with V8's
// code cache (cni/codecache.ts): measured with npm run bench:cni, 1 to 2.5 ms less per ADD.
import { Script } from "node:vm";
import { type CodeCacheState, openCodeCache, saveCodeCache } from "./codecache";
import type { PluginBody } from "./main";

/** The bundle of cni/main.ts wrapped as a CommonJS function, inlined by build.mjs. */
declare const PODNET_BODY: string;
/** A hash of PODNET_BODY: names this build's cache files. */
declare const PODNET_BODY_ID: string;

const cache = openCodeCache(process.env, PODNET_BODY_ID);
const script = new Script(PODNET_BODY, { filename: __filename, cachedData: cache.data });
const state: CodeCacheState = cache.data === undefined ? cache.state : script.cachedDataRejected ? "rejected" : "hit";
const body = { exports: {} as PluginBody };
script.runInThisContext()(body.exports, require, body, __filename, __dirname);
const exitCode = body.exports.main({ codeCache: state });
// After a successful call, so the bytecode covers every function the verb ran.
if (exitCode === 0 && (state === "miss" || state === "rejected")) {
  saveCodeCache(cache, () => script.createCachedData(), state === "rejected");
}
process.exitCode = exitCode;
