// The process each lab pod (and node, and the "internet") runs, started with
// `nsenter --net=/run/netns/<ns> node agent.js` so that it lives in that namespace:
//   - a tiny TCP server on each --listen port that answers every connection with the
//     address it saw the peer come from, then closes: source-IP checks read the truth
//     from the receiving side; the same over UDP on each --udp port (one datagram in, the
//     report back);
//   - with --dns PORT, a small authoritative DNS responder for the --records it is given
//     (the lab's stand-in for CoreDNS);
//   - a control socket (a Unix socket in the lab's run dir: reachable from the host's
//     file system, while every TCP connection it opens starts inside the namespace) on
//     which the lab asks it to connect somewhere and report what the server saw.
// It is bundled with esbuild at lab start and run by plain node: no tsx, fast start.
import { execFile } from "node:child_process";
import { createSocket } from "node:dgram";
import { rmSync } from "node:fs";
import { createConnection, createServer, type Socket } from "node:net";
import { dnsAnswer } from "./dnsWire";

export interface ServerReply {
  agent: string;
  /** The source address of the connection as the server saw it. */
  peer: string;
  peerPort: number;
  local: string;
  localPort: number;
}

export type ControlRequest =
  | { op: "hello" }
  | { op: "connect" | "udp"; host: string; port: number; timeoutMs: number }
  | { op: "resolve"; name: string; timeoutMs: number };

export type ControlResponse =
  | { ok: true; op: "hello"; agent: string; pid: number }
  | { ok: true; op: "connect" | "udp"; reply: ServerReply; local: string; ms: number }
  | { ok: true; op: "resolve"; addresses: string[]; ms: number }
  | { ok: false; error: string; ms: number };

function argValue(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

function connectOnce(host: string, port: number, timeoutMs: number): Promise<ControlResponse> {
  const started = Date.now();
  return new Promise((resolve) => {
    let data = "";
    let local = "";
    let settled = false;
    const finish = (response: ControlResponse) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      resolve(response);
    };
    const socket: Socket = createConnection({ host, port, family: 4 });
    socket.setTimeout(timeoutMs, () =>
      finish({
        ok: false,
        error: `timed out after ${timeoutMs} ms${local ? " waiting for the answer" : " connecting"}`,
        ms: Date.now() - started,
      }),
    );
    socket.on("connect", () => (local = socket.localAddress ?? ""));
    socket.setEncoding("utf8");
    socket.on("data", (d: string) => (data += d));
    socket.on("error", (e: NodeJS.ErrnoException) =>
      finish({ ok: false, error: e.code ?? e.message, ms: Date.now() - started }),
    );
    socket.on("end", () => {
      try {
        finish({ ok: true, op: "connect", reply: JSON.parse(data) as ServerReply, local, ms: Date.now() - started });
      } catch {
        finish({
          ok: false,
          error: `unexpected answer ${JSON.stringify(data.slice(0, 80))}`,
          ms: Date.now() - started,
        });
      }
    });
  });
}

/** One datagram to host:port, and the server's report back. */
function udpOnce(host: string, port: number, timeoutMs: number): Promise<ControlResponse> {
  const started = Date.now();
  return new Promise((resolve) => {
    const socket = createSocket("udp4");
    let settled = false;
    const finish = (response: ControlResponse) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.close();
      resolve(response);
    };
    const timer = setTimeout(
      () => finish({ ok: false, error: `timed out after ${timeoutMs} ms`, ms: Date.now() - started }),
      timeoutMs,
    );
    socket.on("error", (e: NodeJS.ErrnoException) =>
      finish({ ok: false, error: e.code ?? e.message, ms: Date.now() - started }),
    );
    socket.on("message", (msg) => {
      try {
        finish({
          ok: true,
          op: "udp",
          reply: JSON.parse(msg.toString("utf8")) as ServerReply,
          local: socket.address().address,
          ms: Date.now() - started,
        });
      } catch {
        finish({
          ok: false,
          error: `unexpected answer ${JSON.stringify(msg.toString("utf8").slice(0, 80))}`,
          ms: Date.now() - started,
        });
      }
    });
    // connect(): an ICMP port unreachable then surfaces as ECONNREFUSED.
    socket.connect(port, host, () => socket.send("probe"));
  });
}

/**
 * A lookup as the workload's libc does it (getaddrinfo: /etc/resolv.conf's nameserver, search
 * path and ndots), run as `getent ahostsv4` so that a lookup still waiting on an unreachable
 * server is killed at the deadline rather than left holding one of Node's threads.
 */
function resolveOnce(name: string, timeoutMs: number): Promise<ControlResponse> {
  const started = Date.now();
  return new Promise((resolve) => {
    execFile(
      "getent",
      ["ahostsv4", name],
      { timeout: timeoutMs, killSignal: "SIGKILL", encoding: "utf8" },
      (err, stdout) => {
        const ms = Date.now() - started;
        if (!err) {
          const addresses = [
            ...new Set(
              stdout
                .split("\n")
                .map((l) => l.split(/\s+/)[0])
                .filter(Boolean),
            ),
          ];
          resolve({ ok: true, op: "resolve", addresses, ms });
        } else if (err.killed) {
          resolve({ ok: false, error: `timed out after ${timeoutMs} ms`, ms });
        } else {
          // getent exits 2 when getaddrinfo finds nothing (NXDOMAIN, or no server answered).
          resolve({ ok: false, error: err.code === 2 ? "not found" : String(err.code ?? err.message), ms });
        }
      },
    );
  });
}

function report(name: string, peer: string, peerPort: number, local: string, localPort: number): string {
  const reply: ServerReply = { agent: name, peer, peerPort, local, localPort };
  return JSON.stringify(reply);
}

function listenUdp(
  name: string,
  port: number,
  answer: (msg: Buffer, peer: string, peerPort: number) => Buffer | string | undefined,
): void {
  const socket = createSocket("udp4");
  socket.on("error", (e) => {
    process.stderr.write(`${name}: cannot listen on udp ${port}: ${e.message}\n`);
    process.exit(1);
  });
  socket.on("message", (msg, rinfo) => {
    const out = answer(msg, rinfo.address, rinfo.port);
    if (out !== undefined) socket.send(out, rinfo.port, rinfo.address);
  });
  socket.bind(port, "0.0.0.0");
}

function parseRecords(text: string): Map<string, string> {
  const records = new Map<string, string>();
  for (const item of text.split(",").filter(Boolean)) {
    const [fqdn, ip] = item.split("=");
    records.set(fqdn.toLowerCase().replace(/\.$/, ""), ip);
  }
  return records;
}

/** The TCP server on `port`: every connection gets the report of the address it came from. */
function listenTcp(name: string, port: number): void {
  createServer((socket) => {
    socket.on("error", () => undefined);
    socket.end(
      `${report(name, socket.remoteAddress ?? "", socket.remotePort ?? 0, socket.localAddress ?? "", socket.localPort ?? 0)}\n`,
    );
  })
    .on("error", (e) => {
      process.stderr.write(`${name}: cannot listen on ${port}: ${e.message}\n`);
      process.exit(1);
    })
    .listen(port, "0.0.0.0");
}

/** One control request: answered on `conn` (probes answer when they are done). */
function answer(name: string, conn: Socket, line: string): void {
  let request: ControlRequest;
  try {
    request = JSON.parse(line) as ControlRequest;
  } catch {
    conn.write(`${JSON.stringify({ ok: false, error: "bad request", ms: 0 })}\n`);
    return;
  }
  if (request.op === "hello") {
    conn.write(`${JSON.stringify({ ok: true, op: "hello", agent: name, pid: process.pid })}\n`);
  } else if (request.op === "connect" || request.op === "udp") {
    const once = request.op === "connect" ? connectOnce : udpOnce;
    void once(request.host, request.port, request.timeoutMs).then((r) => conn.write(`${JSON.stringify(r)}\n`));
  } else if (request.op === "resolve") {
    void resolveOnce(request.name, request.timeoutMs).then((r) => conn.write(`${JSON.stringify(r)}\n`));
  }
}

/** The control socket: one JSON request per line. */
function serveControl(name: string, control: string): void {
  rmSync(control, { force: true });
  createServer((conn) => {
    let buffer = "";
    conn.setEncoding("utf8");
    conn.on("error", () => undefined);
    conn.on("data", (chunk: string) => {
      buffer += chunk;
      for (let nl = buffer.indexOf("\n"); nl >= 0; nl = buffer.indexOf("\n")) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        answer(name, conn, line);
      }
    });
  }).listen(control);
}

function main(): void {
  const args = process.argv.slice(2);
  const name = argValue(args, "--name") ?? "agent";
  const control = argValue(args, "--control");
  const ports = (argValue(args, "--listen") ?? "").split(",").filter(Boolean).map(Number);
  const udpPorts = (argValue(args, "--udp") ?? "").split(",").filter(Boolean).map(Number);
  const dnsPort = argValue(args, "--dns");
  const records = parseRecords(argValue(args, "--records") ?? "");
  if (!control) {
    process.stderr.write("usage: agent --name NAME --control SOCKET [--listen PORT,...]\n");
    process.exit(2);
  }
  for (const port of ports) listenTcp(name, port);
  for (const port of udpPorts) listenUdp(name, port, (_msg, peer, peerPort) => report(name, peer, peerPort, "", port));
  if (dnsPort) listenUdp(name, Number(dnsPort), (msg) => dnsAnswer(msg, records));
  serveControl(name, control);
  const stop = () => {
    rmSync(control, { force: true });
    process.exit(0);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

main();
