// Entry point of the bundled plugin (dist/podnet, installed as /opt/cni/bin/podnet).
import { readFileSync } from "node:fs";
import { appendLog } from "./log";
import { invoke } from "./plugin";

function readStdin(): string {
  try {
    return readFileSync(0, "utf8");
  } catch {
    return ""; // no stdin (e.g. a terminal closed): the verb decides whether that is an error
  }
}

const started = process.hrtime.bigint();
const call = invoke(process.env, readStdin());
process.stdout.write(call.stdout);
const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
appendLog(call.log.file, { time: new Date().toISOString(), ...call.log.entry, durationMs: Math.round(durationMs * 10) / 10 });
process.exitCode = call.exitCode;
