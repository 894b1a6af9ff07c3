// Entry point of dist/podnet (installed as /opt/cni/bin/podnet): one CNI call per process.

import { execStats } from "./exec";
import { readFileSync, writeSync } from "./fs";
import { appendLog } from "./log";
import { invoke } from "./plugin";

function readStdin(): string {
  try {
    return readFileSync(0, "utf8");
  } catch {
    return ""; // no stdin (e.g. a terminal closed): the verb decides whether that is an error
  }
}

const round = (ms: number) => Math.round(ms * 10) / 10;

/** The runtime the bundle runs on, for the log: "bun 1.4.5" on a node. */
export function runtimeName(): string {
  const bun = (process.versions as Record<string, string | undefined>).bun;
  return bun ? `bun ${bun}` : `node ${process.versions.node}`;
}

/** Runs the call the environment and stdin describe; returns the exit code. */
export function main(): number {
  // performance.now() counts from the process's start: the runtime's start-up and the bundle's load.
  const loadMs = performance.now();
  const started = process.hrtime.bigint();
  const call = invoke(process.env, readStdin());
  // writeSync, not process.stdout: creating the stdout stream costs about a millisecond.
  if (call.stdout) writeSync(1, call.stdout);
  if (call.log) {
    const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
    appendLog(call.log.file, {
      time: new Date().toISOString(),
      ...call.log.entry,
      loadMs: round(loadMs),
      durationMs: round(durationMs),
      execs: execStats.count,
      execMs: round(execStats.ms),
      runtime: runtimeName(),
    });
  }
  return call.exitCode;
}

process.exitCode = main();
