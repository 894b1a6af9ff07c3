// What one check does on a real cluster: a command run with `kubectl exec` inside a test
// pod (a host pod for checks that start on a node), whose output the agnhost parsers read.
// kubectl exec reaches the pod through the API server and the kubelet, never over the pod
// network, so a broken pod path fails only the checks that use it.
import { dialAnswer, parseClientIp, parseDig, parseHostname, parsePing, parsePublicIp, splitBodies } from "./agnhost";
import { firstLine, type Kubectl } from "./kubectl";

/** Where the internet check asks for the pod's public address. */
export const PUBLIC_IP_URL = "https://checkip.amazonaws.com";

export interface ProbeResult {
  readonly ok: boolean;
  /** The pod that answered (hostname), for HTTP and UDP. */
  readonly agent?: string;
  /** The source address the server saw. */
  readonly peer?: string;
  /** DNS answers, or the public address the internet saw. */
  readonly addresses?: readonly string[];
  /** Why it failed, in a few words, from the tool's own output. */
  readonly error?: string;
  readonly ms: number;
}

/** A test pod to run in: its name and the port its own netexec listens on (for /dial). */
export interface ExecPod {
  readonly name: string;
  readonly httpPort: number;
}

/** Each probe runs in `from` and gives up after timeoutS seconds inside the pod. */
export interface Probes {
  /** HTTP to host:port: who answered (/hostname) and the source it saw (/clientip). */
  http(from: ExecPod, host: string, port: number, timeoutS: number): Promise<ProbeResult>;
  /** UDP to host:port through the pod's own netexec (/dial): who answered, and the source it saw. */
  udp(from: ExecPod, host: string, port: number, timeoutS: number): Promise<ProbeResult>;
  /** The A records of a name, through the pod's resolv.conf (search path included). */
  dns(from: ExecPod, name: string, timeoutS: number): Promise<ProbeResult>;
  /** ICMP echo. */
  ping(from: ExecPod, ip: string, timeoutS: number): Promise<ProbeResult>;
  /** The pod's public address, as the internet sees it. */
  publicIp(from: ExecPod, timeoutS: number): Promise<ProbeResult>;
}

/** The argv each probe runs inside its pod (exported for tests and for reading logs). */
export const commands = {
  http: (host: string, port: number, timeoutS: number) => [
    "curl",
    "-sS",
    "--max-time",
    String(timeoutS),
    "-w",
    "\\n",
    `http://${host}:${port}/hostname`,
    `http://${host}:${port}/clientip`,
  ],
  udp: (localPort: number, host: string, port: number, timeoutS: number) => {
    const dial = (request: string) =>
      `http://127.0.0.1:${localPort}/dial?request=${request}&protocol=udp&host=${host}&port=${port}&tries=1`;
    // netexec's UDP dialer waits up to 5 s for the answer by itself.
    return ["curl", "-sS", "--max-time", String(timeoutS + 5), "-w", "\\n", dial("hostname"), dial("clientip")];
  },
  dns: (name: string, timeoutS: number) => ["dig", "+search", "+short", `+time=${timeoutS}`, "+tries=1", name, "A"],
  ping: (ip: string, timeoutS: number) => ["ping", "-c", "1", "-W", String(timeoutS), ip],
  publicIp: (timeoutS: number) => ["curl", "-sS", "--max-time", String(timeoutS), PUBLIC_IP_URL],
};

export function kubectlProbes(kubectl: Kubectl, namespace: string): Probes {
  const exec = async (
    pod: ExecPod,
    argv: string[],
    timeoutS: number,
    read: (stdout: string) => Omit<ProbeResult, "ok" | "ms">,
  ): Promise<ProbeResult> => {
    const started = Date.now();
    const r = await kubectl.run(["exec", "-n", namespace, pod.name, "-c", "agnhost", "--", ...argv], {
      timeoutMs: (timeoutS + 20) * 1000,
    });
    const ms = Date.now() - started;
    if (r.status !== 0 && r.stdout.trim() === "")
      return { ok: false, error: firstLine(r.stderr) || `exit ${r.status}`, ms };
    try {
      const seen = read(r.stdout);
      if (r.status !== 0) return { ok: false, ...seen, error: firstLine(r.stderr) || `exit ${r.status}`, ms };
      return { ok: true, ...seen, ms };
    } catch (e) {
      return { ok: false, error: firstLine(r.stderr) || (e as Error).message, ms };
    }
  };
  return {
    http: (from, host, port, t) =>
      exec(from, commands.http(host, port, t), t * 2, (out) => {
        const [hostname, clientIp] = splitBodies(out, 2);
        return { agent: parseHostname(hostname), peer: parseClientIp(clientIp).ip };
      }),
    udp: (from, host, port, t) =>
      exec(from, commands.udp(from.httpPort, host, port, t), (t + 5) * 2, (out) => {
        const [hostname, clientIp] = splitBodies(out, 2);
        return { agent: parseHostname(dialAnswer(hostname)), peer: parseClientIp(dialAnswer(clientIp)).ip };
      }),
    dns: (from, name, t) => exec(from, commands.dns(name, t), t, (out) => ({ addresses: parseDig(out).addresses })),
    ping: (from, ip, t) =>
      exec(from, commands.ping(ip, t), t, (out) => {
        const p = parsePing(out);
        if (p.received === 0) throw new Error(`0 of ${p.transmitted} echo replies`);
        return {};
      }),
    publicIp: (from, t) => exec(from, commands.publicIp(t), t, (out) => ({ addresses: [parsePublicIp(out)] })),
  };
}
