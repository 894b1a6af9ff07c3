// Reads `strace -f -ttt -e trace=execve,clone,...,exit_group` output of one plugin call
// into a timeline: when the runtime started, each process the plugin spawned (fork -> exec ->
// exit), and the plugin's exit. The bench turns a few of these into the ADD profile.

export interface ChildProcessTrace {
  /** argv of the last successful execve, e.g. "ip -json -batch -". */
  command: string;
  /** Successful execve calls (nsenter + ip is two). */
  execs: number;
  forkAt: number;
  execAt: number;
  exitAt: number;
}

export interface CallTrace {
  startAt: number;
  /** When the runtime (bun) was exec'd: after /usr/bin/env's PATH search. */
  nodeAt: number;
  exitAt: number;
  children: ChildProcessTrace[];
}

const LINE = /^(\d+)\s+(\d+\.\d+)\s+(.*)$/;

function argvOf(text: string): string {
  const m = /execve\("[^"]*",\s*\[(.*?)\](?:,|\s*<unfinished)/.exec(text);
  if (!m) return "?";
  return m[1]
    .split(/",\s*"/)
    .map((s) => s.replace(/^"|"$/g, ""))
    .join(" ")
    .replace(/\.\.\.$/, "");
}

export function parseStrace(text: string): CallTrace | undefined {
  let root: number | undefined;
  const pending = new Map<number, { ts: number; text: string }>();
  const forkAt = new Map<number, number>();
  const execs = new Map<number, { at: number; lastAt: number; command: string; count: number }>();
  const exits = new Map<number, number>();
  const firstSeen = new Map<number, number>();

  for (const raw of text.split("\n")) {
    const m = LINE.exec(raw);
    if (!m) continue;
    const pid = Number(m[1]);
    const ts = Number(m[2]) * 1000;
    let body = m[3];
    root ??= pid;
    if (!firstSeen.has(pid)) firstSeen.set(pid, ts);
    let startTs = ts;
    if (body.endsWith("<unfinished ...>")) {
      pending.set(pid, { ts, text: body });
      continue;
    }
    const resumed = /^<\.\.\. (\w+) resumed>(.*)$/.exec(body);
    if (resumed) {
      const p = pending.get(pid);
      pending.delete(pid);
      if (!p) continue;
      startTs = p.ts;
      body = p.text.replace(/<unfinished \.\.\.>$/, "") + resumed[2];
    }
    if (/^(clone3?|fork|vfork)\(/.test(body)) {
      const ret = /=\s*(\d+)\s*$/.exec(body);
      // Threads (CLONE_THREAD) are not processes the plugin waits for.
      if (ret && !body.includes("CLONE_THREAD")) forkAt.set(Number(ret[1]), startTs);
    } else if (body.startsWith("execve(")) {
      if (/=\s*0\s*$/.test(body)) {
        const prev = execs.get(pid);
        execs.set(pid, {
          at: prev?.at ?? startTs,
          lastAt: startTs,
          command: argvOf(body),
          count: (prev?.count ?? 0) + 1,
        });
      }
    } else if (body.startsWith("exit_group(")) {
      exits.set(pid, startTs);
    }
  }
  if (root === undefined) return undefined;
  const rootExec = execs.get(root);
  const children: ChildProcessTrace[] = [];
  for (const [pid, fork] of forkAt) {
    const exec = execs.get(pid);
    const exit = exits.get(pid);
    if (!exec || exit === undefined || pid === root) continue;
    children.push({ command: exec.command, execs: exec.count, forkAt: fork, execAt: exec.at, exitAt: exit });
  }
  children.sort((a, b) => a.forkAt - b.forkAt);
  return {
    startAt: firstSeen.get(root) ?? 0,
    nodeAt: rootExec?.lastAt ?? firstSeen.get(root) ?? 0,
    exitAt: exits.get(root) ?? 0,
    children,
  };
}

export interface ExecProfile {
  processes: number;
  execs: number;
  commands: string[];
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.max(0, Math.ceil(v.length / 2) - 1)];

/** Child processes and execs of a few traced calls (medians), and the first call's commands. */
export function summariseStrace(traces: CallTrace[]): ExecProfile | undefined {
  const ok = traces.filter((t) => t.exitAt > 0);
  if (ok.length === 0) return undefined;
  return {
    processes: median(ok.map((t) => t.children.length)),
    execs: median(ok.map((t) => t.children.reduce((n, c) => n + c.execs, 0))),
    commands: ok[0].children.map((c) => `${c.command}${c.execs > 1 ? ` (${c.execs} execs)` : ""}`),
  };
}
