// One iperf3 measurement between two lab namespaces: a one-shot server in one, the
// client in the other, the figure read from the client's JSON report.
import { spawn } from "node:child_process";
import { ENV_WITH_SBIN, inNetns, run, runSync, sleep } from "./sh";

export const IPERF_PORT = 5201;

export interface IperfResult {
  gbps: number;
  retransmits: number;
}

interface IperfJson {
  error?: string;
  end?: {
    sum_received?: { bits_per_second?: number };
    sum_sent?: { bits_per_second?: number; retransmits?: number };
  };
}

function listening(netns: string, port: number): boolean {
  const ran = runSync(inNetns(netns, ["ss", "-Hltn", `sport = :${port}`]));
  return ran.status === 0 && ran.stdout.trim().length > 0;
}

export async function runIperf(opts: {
  serverNetns: string;
  clientNetns: string;
  host: string;
  seconds: number;
  onPid?: (pid: number) => void;
}): Promise<IperfResult> {
  const argv = inNetns(opts.serverNetns, ["iperf3", "-s", "-1", "-p", String(IPERF_PORT)]);
  const server = spawn(argv[0], argv.slice(1), { env: ENV_WITH_SBIN, stdio: "ignore", detached: true });
  if (server.pid !== undefined) opts.onPid?.(server.pid);
  let serverExit: number | null | undefined;
  server.on("exit", (code) => (serverExit = code));
  try {
    const deadline = Date.now() + 5000;
    while (!listening(opts.serverNetns, IPERF_PORT)) {
      if (serverExit !== undefined) throw new Error(`iperf3 server in ${opts.serverNetns} exited (${serverExit})`);
      if (Date.now() > deadline) throw new Error(`iperf3 server in ${opts.serverNetns} is not listening after 5 s`);
      await sleep(20);
    }
    const ran = await run(
      inNetns(opts.clientNetns, [
        "iperf3",
        "-c",
        opts.host,
        "-p",
        String(IPERF_PORT),
        "-t",
        String(opts.seconds),
        "-J",
      ]),
      {
        timeoutMs: (opts.seconds + 15) * 1000,
      },
    );
    let report: IperfJson;
    try {
      report = JSON.parse(ran.stdout) as IperfJson;
    } catch {
      throw new Error(
        `iperf3 client in ${opts.clientNetns} printed no report: ${ran.stderr.trim() || ran.stdout.slice(0, 200)}`,
      );
    }
    if (ran.status !== 0 || report.error)
      throw new Error(`iperf3 ${opts.clientNetns} -> ${opts.host}: ${report.error ?? ran.stderr.trim()}`);
    const bps = report.end?.sum_received?.bits_per_second ?? report.end?.sum_sent?.bits_per_second ?? 0;
    return { gbps: bps / 1e9, retransmits: report.end?.sum_sent?.retransmits ?? 0 };
  } finally {
    if (serverExit === undefined && server.pid !== undefined) {
      try {
        process.kill(server.pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  }
}
