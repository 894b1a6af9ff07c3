// One structured line per call, appended to the network's log file: what an operator
// greps when a pod has no network.
import { appendFileSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";

export interface LogEntry {
  time: string;
  verb: string;
  containerId?: string;
  ifname?: string;
  netns?: string;
  pod?: string;
  network?: string;
  ip?: string;
  result: "ok" | "error";
  code?: number;
  msg?: string;
  /** Process start to the call's first line: the runtime's start-up and the bundle's load. */
  loadMs?: number;
  durationMs: number;
  /** Processes the call ran (ip, iptables-save, ...) and the time spent in them. */
  execs?: number;
  execMs?: number;
  /** What ran the bundle, e.g. "bun 1.4.5": shows a node runs the pinned runtime. */
  runtime?: string;
}

/** Appends the entry; a log that cannot be written never fails the call. */
export function appendLog(file: string, entry: LogEntry): void {
  if (!file) return;
  const line = `${JSON.stringify(entry)}\n`;
  try {
    appendFileSync(file, line);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") return;
    try {
      mkdirSync(dirname(file), { recursive: true });
      appendFileSync(file, line);
    } catch {
      // Nowhere to write: the runtime still gets the result or the error on stdout.
    }
  }
}
