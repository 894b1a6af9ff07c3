// The plugin body: cni/launcher.ts compiles this bundle (with V8's code cache) and calls
// main once per process.
import { readFileSync, writeSync } from "node:fs";
import type { CodeCacheState } from "./codecache";
import { execStats } from "./exec";
import { appendLog } from "./log";
import { invoke } from "./plugin";

export interface MainOptions {
  codeCache: CodeCacheState;
}

export interface PluginBody {
  main(options: MainOptions): number;
}

function readStdin(): string {
  try {
    return readFileSync(0, "utf8");
  } catch {
    return ""; // no stdin (e.g. a terminal closed): the verb decides whether that is an error
  }
}

const round = (ms: number) => Math.round(ms * 10) / 10;

/** Runs the call the environment and stdin describe; returns the exit code. */
export function main(options: MainOptions): number {
  const started = process.hrtime.bigint();
  const call = invoke(process.env, readStdin());
  // writeSync, not process.stdout: creating the stdout stream costs about a millisecond.
  if (call.stdout) writeSync(1, call.stdout);
  if (call.log) {
    const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
    appendLog(call.log.file, {
      time: new Date().toISOString(),
      ...call.log.entry,
      durationMs: round(durationMs),
      execs: execStats.count,
      execMs: round(execStats.ms),
      codeCache: options.codeCache,
    });
  }
  return call.exitCode;
}
