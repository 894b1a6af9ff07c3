// One bench worker per node netns: it execs one plugin the way a runtime does (stdin
// config, CNI_* environment) and times each call. The bench drives the workers in lock
// step over stdin/stdout (one JSON request and one JSON reply per line), so podnet, the
// reference plugins and `bun -e 0` are sampled interleaved and share the machine's noise.
//
//   node --import tsx test/bench/worker.ts <plugin> <config file> <CNI_PATH> <bun>
import { spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname } from "node:path";
import { createInterface } from "node:readline";

export interface Pod {
  id: string;
  netns: string;
}

export type Request =
  | { op: "call"; verb: "ADD" | "DEL"; pod: Pod }
  | { op: "floor" }
  | { op: "version" }
  | { op: "burst"; verb: "ADD" | "DEL"; pods: Pod[] }
  /** One call under strace (exec/fork/exit timeline); target "floor" traces `bun -e 0`. */
  | { op: "strace"; target: "plugin" | "floor"; verb: "ADD" | "DEL"; pod: Pod; traceFile: string }
  /** One call with a preloaded hook (bun --preload) that times every spawnSync in-process; writes JSON to outFile. */
  | {
      op: "hooked";
      target: "plugin" | "floor" | "version";
      verb: "ADD" | "DEL";
      pod: Pod;
      hook: string;
      outFile: string;
    }
  | { op: "exit" };

export interface CallResult {
  ms: number;
  ok: boolean;
  ip?: string;
  error?: string;
}

export interface BurstResult {
  wallMs: number;
  calls: CallResult[];
}

const [plugin, configFile, cniPath, bun] = process.argv.slice(2);
if (!plugin || !configFile || !cniPath || !bun) {
  process.stderr.write("usage: worker.ts <plugin> <config file> <CNI_PATH> <bun>\n");
  process.exit(2);
}
const config = readFileSync(configFile, "utf8");

/**
 * What a runtime passes: containerd's PATH, with the pinned Bun's directory first where a
 * node has /opt/podnet/bin; nothing of the bench's own node options leaks into the plugin.
 */
function envFor(verb: string, pod?: Pod): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: `${dirname(bun)}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
    CNI_COMMAND: verb,
    CNI_PATH: cniPath,
  };
  if (pod) {
    env.CNI_CONTAINERID = pod.id;
    env.CNI_NETNS = pod.netns;
    env.CNI_IFNAME = "eth0";
    env.CNI_ARGS = `IgnoreUnknown=1;K8S_POD_NAMESPACE=bench;K8S_POD_NAME=${pod.id}`;
  }
  return env;
}

function outcome(status: number | null, stdout: string, stderr: string, ms: number, verb: string): CallResult {
  if (status !== 0) return { ms, ok: false, error: `exit ${status}: ${(stdout + stderr).trim().slice(0, 300)}` };
  if (verb !== "ADD") return { ms, ok: true };
  try {
    const result = JSON.parse(stdout) as { ips?: Array<{ address?: string }> };
    const ip = result.ips?.[0]?.address?.split("/")[0];
    return ip ? { ms, ok: true, ip } : { ms, ok: false, error: `ADD result has no IP: ${stdout.slice(0, 300)}` };
  } catch {
    return { ms, ok: false, error: `ADD printed no JSON: ${stdout.slice(0, 300)}` };
  }
}

function timed(command: string, args: string[], env: NodeJS.ProcessEnv, input: string, verb: string): CallResult {
  const start = process.hrtime.bigint();
  const res = spawnSync(command, args, { input, env, encoding: "utf8", maxBuffer: 16 * 1024 * 1024 });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (res.error) return { ms, ok: false, error: res.error.message };
  return outcome(res.status, res.stdout, res.stderr, ms, verb);
}

function timedAsync(verb: "ADD" | "DEL", pod: Pod): Promise<CallResult> {
  return new Promise((resolve) => {
    const start = process.hrtime.bigint();
    const child = spawn(plugin, [], { env: envFor(verb, pod), stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", (e) =>
      resolve({ ms: Number(process.hrtime.bigint() - start) / 1e6, ok: false, error: e.message }),
    );
    child.on("close", (status) =>
      resolve(outcome(status, stdout, stderr, Number(process.hrtime.bigint() - start) / 1e6, verb)),
    );
    child.stdin.end(config);
  });
}

async function handle(req: Request): Promise<unknown> {
  switch (req.op) {
    case "call":
      return timed(plugin, [], envFor(req.verb, req.pod), config, req.verb);
    case "floor":
      return timed(bun, ["-e", "0"], envFor("NONE"), "", "NONE");
    case "version":
      return timed(plugin, [], envFor("VERSION"), config, "VERSION");
    case "burst": {
      const start = process.hrtime.bigint();
      const calls = await Promise.all(req.pods.map((pod) => timedAsync(req.verb, pod)));
      return { wallMs: Number(process.hrtime.bigint() - start) / 1e6, calls } satisfies BurstResult;
    }
    case "strace": {
      const traced = req.target === "floor" ? [bun, "-e", "0"] : [plugin];
      return timed(
        "strace",
        [
          "-f",
          "--seccomp-bpf",
          "-qq",
          "-ttt",
          "-e",
          "trace=execve,clone,clone3,fork,vfork,exit_group",
          "-e",
          "signal=none",
          "-o",
          req.traceFile,
          ...traced,
        ],
        envFor(req.target === "floor" ? "NONE" : req.verb, req.pod),
        req.target === "floor" ? "" : config,
        req.target === "floor" ? "NONE" : req.verb,
      );
    }
    case "hooked": {
      const floor = req.target === "floor";
      const verb = floor ? "NONE" : req.target === "version" ? "VERSION" : req.verb;
      const env = { ...envFor(verb, req.target === "plugin" ? req.pod : undefined), PNB_PROFILE_OUT: req.outFile };
      // The shebang's own flags, so the hooked call loads the bundle as the plain one does.
      const args = ["--no-env-file", "--config=/dev/null", "--preload", req.hook, ...(floor ? ["-e", "0"] : [plugin])];
      return timed(bun, args, env, floor ? "" : config, verb);
    }
    case "exit":
      return {};
  }
}

const lines = createInterface({ input: process.stdin });
let queue = Promise.resolve();
lines.on("line", (line) => {
  queue = queue.then(async () => {
    const req = JSON.parse(line) as Request;
    let reply: unknown;
    try {
      reply = await handle(req);
    } catch (e) {
      reply = { error: (e as Error).message };
    }
    process.stdout.write(`${JSON.stringify(reply)}\n`);
    if (req.op === "exit") process.exit(0);
  });
});
process.stdout.write(`${JSON.stringify({ ready: true, pid: process.pid })}\n`);
