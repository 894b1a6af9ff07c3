// One structured line per call, appended to the network's log file: what an operator
// greps when a pod has no network. Root appends to it, so its directory must be root's
// (group-writable is tolerated, as Ubuntu's /var/log is root:syslog 0775) and the file is
// opened without following links or waiting on a FIFO, and only as a regular file with
// one name.
import { closeSync, constants, mkdirSync, writeSync } from "./fs";
import { dirname } from "./path";
import { openRegularForWrite } from "./safefs";
import { type Untrusted, untrustedPath } from "./trust";

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
  /** Stray entries the IPAM store skipped (not regular files), for an operator to remove. */
  warnings?: string[];
}

/** Why root must not write `file`'s directory, or undefined. */
export function logDirProblem(file: string): Untrusted | undefined {
  return untrustedPath(dirname(file), { groupWritable: true });
}

function openLog(file: string): number | undefined {
  return openRegularForWrite(file, constants.O_APPEND, 0o644);
}

/**
 * Appends the entry to a file whose directory passed logDirProblem; a log that cannot be
 * written never fails the call.
 */
export function appendLog(file: string, entry: LogEntry): void {
  if (!file) return;
  let fd: number | undefined;
  try {
    try {
      fd = openLog(file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") return;
      mkdirSync(dirname(file), { recursive: true, mode: 0o755 });
      // Made now: check it as the call checked the directory before.
      if (logDirProblem(file)) return;
      fd = openLog(file);
    }
    if (fd !== undefined) writeSync(fd, `${JSON.stringify(entry)}\n`);
  } catch {
    // Nowhere to write: the runtime still gets the result or the error on stdout.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
