// Starting, asking and stopping the agents (lab/agent.ts) that stand in for the pods'
// workloads, the nodes' kubelet port and the internet's server.
import { spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from "node:fs";
import { createConnection } from "node:net";
import { join } from "node:path";
import { buildSync } from "esbuild";
import { NODE_BUNDLE } from "../cni/esbuild-options.mjs";
import type { ControlRequest, ControlResponse, ServerReply } from "./agent";
import { inNetns, sleep } from "./sh";

export interface AgentHandle {
  readonly name: string;
  readonly netns: string;
  readonly pid: number;
  readonly control: string;
  readonly ports: readonly number[];
}

/** Bundles lab/agent.ts into one plain-JS file in the run dir (milliseconds, no tsx at run time). */
export function bundleAgent(outDir: string): string {
  const outfile = join(outDir, "agent.js");
  buildSync({ ...NODE_BUNDLE, entryPoints: [join(__dirname, "agent.ts")], outfile, target: "node18" });
  return outfile;
}

/**
 * Starts an agent in a namespace. Detached (its own process group, stdio to a log file) so
 * that Ctrl-C reaches only the lab, which then stops it in order, and so that --keep can
 * leave it running after the lab exits.
 */
export interface AgentOptions {
  agentJs: string;
  dir: string;
  name: string;
  netns: string;
  /** TCP ports it answers on. */
  ports: readonly number[];
  /** UDP ports it answers on (one datagram in, the report back). */
  udpPorts?: readonly number[];
  /** Serve DNS on this UDP port for these records (FQDN -> IPv4). */
  dns?: { port: number; records: ReadonlyMap<string, string> };
  /** The file its /etc/resolv.conf is, as a container runtime bind-mounts the one kubelet writes. */
  resolvConf?: string;
}

/** argv: the agent in the namespace; with resolvConf in a private mount namespace that shows that file as /etc/resolv.conf. */
function agentArgv(opts: AgentOptions, control: string): string[] {
  const agent = [
    process.execPath,
    opts.agentJs,
    "--name",
    opts.name,
    "--control",
    control,
    "--listen",
    opts.ports.join(","),
  ];
  if (opts.udpPorts?.length) agent.push("--udp", opts.udpPorts.join(","));
  if (opts.dns)
    agent.push(
      "--dns",
      String(opts.dns.port),
      "--records",
      [...opts.dns.records].map(([n, ip]) => `${n}=${ip}`).join(","),
    );
  if (!opts.resolvConf) return inNetns(opts.netns, agent);
  // unshare without --fork execs in place (so the pid is the agent's); private propagation keeps the mount out of the host's namespace.
  const mountThenExec = 'mount --bind "$0" /etc/resolv.conf && exec "$@"';
  return inNetns(opts.netns, [
    "unshare",
    "--mount",
    "--propagation",
    "private",
    "sh",
    "-c",
    mountThenExec,
    opts.resolvConf,
    ...agent,
  ]);
}

export async function startAgent(opts: AgentOptions): Promise<AgentHandle> {
  mkdirSync(opts.dir, { recursive: true });
  const control = join(opts.dir, `${opts.name}.sock`);
  const logPath = join(opts.dir, `${opts.name}.log`);
  const log = openSync(logPath, "a");
  const argv = agentArgv(opts, control);
  const child = spawn(argv[0], argv.slice(1), { detached: true, stdio: ["ignore", log, log] });
  closeSync(log);
  child.unref();
  const pid = child.pid;
  if (pid === undefined) throw new Error(`cannot start the agent for ${opts.name}`);
  let exited: number | null | undefined;
  child.on("exit", (code) => (exited = code));
  const handle: AgentHandle = { name: opts.name, netns: opts.netns, pid, control, ports: opts.ports };
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (exited !== undefined) {
      throw new Error(
        `agent ${opts.name} exited (${exited}): ${existsSync(logPath) ? readFileSync(logPath, "utf8").trim().slice(-400) : ""}`,
      );
    }
    if (existsSync(control)) {
      const hello = await ask(handle, { op: "hello" }, 1000).catch(() => undefined);
      if (hello?.ok) return handle;
    }
    await sleep(10);
  }
  throw new Error(`agent ${opts.name} in ${opts.netns} did not come up within 10 s (see ${logPath})`);
}

/** One request on the agent's control socket. */
export function ask(
  agent: Pick<AgentHandle, "control" | "name">,
  request: ControlRequest,
  timeoutMs: number,
): Promise<ControlResponse> {
  return new Promise((resolve, reject) => {
    const conn = createConnection(agent.control);
    let buffer = "";
    const timer = setTimeout(() => {
      conn.destroy();
      reject(new Error(`agent ${agent.name} did not answer within ${timeoutMs} ms`));
    }, timeoutMs);
    conn.setEncoding("utf8");
    conn.on("connect", () => conn.write(`${JSON.stringify(request)}\n`));
    conn.on("data", (d: string) => {
      buffer += d;
      const nl = buffer.indexOf("\n");
      if (nl >= 0) {
        clearTimeout(timer);
        conn.end();
        try {
          resolve(JSON.parse(buffer.slice(0, nl)) as ControlResponse);
        } catch (e) {
          reject(e as Error);
        }
      }
    });
    conn.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

export interface Probe {
  ok: boolean;
  /** What the server saw as the connection's source. */
  seen?: ServerReply;
  /** The client's own source address. */
  local?: string;
  error?: string;
  ms: number;
}

/**
 * Asks `from` to reach host:port from inside its namespace: over TCP it opens a connection,
 * over UDP it sends one datagram; either way it reports what the server saw.
 */
export async function probe(
  from: Pick<AgentHandle, "control" | "name">,
  protocol: "tcp" | "udp",
  host: string,
  port: number,
  timeoutMs = 2000,
): Promise<Probe> {
  const op = protocol === "tcp" ? "connect" : "udp";
  try {
    const r = await ask(from, { op, host, port, timeoutMs }, timeoutMs + 2000);
    if (r.ok && r.op === op) return { ok: true, seen: r.reply, local: r.local, ms: r.ms };
    if (!r.ok) return { ok: false, error: r.error, ms: r.ms };
    return { ok: false, error: "unexpected answer", ms: 0 };
  } catch (e) {
    return { ok: false, error: (e as Error).message, ms: 0 };
  }
}

/** Asks `from` to resolve a name through its own resolv.conf (IPv4). */
export async function resolveName(
  from: Pick<AgentHandle, "control" | "name">,
  name: string,
  timeoutMs = 2000,
): Promise<{ ok: boolean; addresses?: string[]; error?: string; ms: number }> {
  try {
    const r = await ask(from, { op: "resolve", name, timeoutMs }, timeoutMs + 2000);
    if (r.ok && r.op === "resolve") return { ok: true, addresses: r.addresses, ms: r.ms };
    if (!r.ok) return { ok: false, error: r.error, ms: r.ms };
    return { ok: false, error: "unexpected answer", ms: 0 };
  } catch (e) {
    return { ok: false, error: (e as Error).message, ms: 0 };
  }
}

/** Running (a zombie waiting for its parent to reap it counts as gone). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

/** Stops processes by pid: TERM, then KILL after graceMs. Returns the pids that were running. */
export async function stopPids(pids: readonly number[], graceMs = 1000): Promise<number[]> {
  const running = pids.filter((p) => p > 1 && p !== process.pid && alive(p));
  for (const pid of running) {
    try {
      process.kill(pid, "SIGTERM");
    } catch {
      // gone already
    }
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && running.some(alive)) await sleep(10);
  for (const pid of running.filter(alive)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // gone already
    }
  }
  return running;
}
