// The process each lab pod (and node, and the "internet") runs, started with
// `nsenter --net=/run/netns/<ns> node agent.js` so that it lives in that namespace:
//   - a tiny TCP server on each --listen port that answers every connection with the
//     address it saw the peer come from, then closes: source-IP checks read the truth
//     from the receiving side;
//   - a control socket (a Unix socket in the lab's run dir: reachable from the host's
//     file system, while every TCP connection it opens starts inside the namespace) on
//     which the lab asks it to connect somewhere and report what the server saw.
// It is bundled with esbuild at lab start and run by plain node: no tsx, fast start.
import { rmSync } from "node:fs";
import { createConnection, createServer, Socket } from "node:net";

export interface ServerReply {
  agent: string;
  /** The source address of the connection as the server saw it. */
  peer: string;
  peerPort: number;
  local: string;
  localPort: number;
}

export type ControlRequest = { op: "hello" } | { op: "connect"; host: string; port: number; timeoutMs: number };

export type ControlResponse =
  | { ok: true; op: "hello"; agent: string; pid: number }
  | { ok: true; op: "connect"; reply: ServerReply; local: string; ms: number }
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
    socket.setTimeout(timeoutMs, () => finish({ ok: false, error: `timed out after ${timeoutMs} ms${local ? " waiting for the answer" : " connecting"}`, ms: Date.now() - started }));
    socket.on("connect", () => (local = socket.localAddress ?? ""));
    socket.setEncoding("utf8");
    socket.on("data", (d: string) => (data += d));
    socket.on("error", (e: NodeJS.ErrnoException) => finish({ ok: false, error: e.code ?? e.message, ms: Date.now() - started }));
    socket.on("end", () => {
      try {
        finish({ ok: true, op: "connect", reply: JSON.parse(data) as ServerReply, local, ms: Date.now() - started });
      } catch {
        finish({ ok: false, error: `unexpected answer ${JSON.stringify(data.slice(0, 80))}`, ms: Date.now() - started });
      }
    });
  });
}

function main(): void {
  const args = process.argv.slice(2);
  const name = argValue(args, "--name") ?? "agent";
  const control = argValue(args, "--control");
  const ports = (argValue(args, "--listen") ?? "")
    .split(",")
    .filter(Boolean)
    .map(Number);
  if (!control) {
    process.stderr.write("usage: agent --name NAME --control SOCKET [--listen PORT,...]\n");
    process.exit(2);
  }
  for (const port of ports) {
    createServer((socket) => {
      const reply: ServerReply = {
        agent: name,
        peer: socket.remoteAddress ?? "",
        peerPort: socket.remotePort ?? 0,
        local: socket.localAddress ?? "",
        localPort: socket.localPort ?? 0,
      };
      socket.on("error", () => undefined);
      socket.end(`${JSON.stringify(reply)}\n`);
    })
      .on("error", (e) => {
        process.stderr.write(`${name}: cannot listen on ${port}: ${e.message}\n`);
        process.exit(1);
      })
      .listen(port, "0.0.0.0");
  }
  rmSync(control, { force: true });
  createServer((conn) => {
    let buffer = "";
    conn.setEncoding("utf8");
    conn.on("error", () => undefined);
    conn.on("data", (chunk: string) => {
      buffer += chunk;
      let nl: number;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        let request: ControlRequest;
        try {
          request = JSON.parse(line) as ControlRequest;
        } catch {
          conn.write(`${JSON.stringify({ ok: false, error: "bad request", ms: 0 })}\n`);
          continue;
        }
        if (request.op === "hello") {
          conn.write(`${JSON.stringify({ ok: true, op: "hello", agent: name, pid: process.pid })}\n`);
        } else if (request.op === "connect") {
          void connectOnce(request.host, request.port, request.timeoutMs).then((r) => conn.write(`${JSON.stringify(r)}\n`));
        }
      }
    });
  }).listen(control);
  const stop = () => {
    rmSync(control, { force: true });
    process.exit(0);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

main();
