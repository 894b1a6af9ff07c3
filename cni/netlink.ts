// rtnetlink spoken from this process through Bun's FFI to libc: the one-process ADD makes
// the veth pair and configures the pod end with no child process (no nsenter, no ip),
// and DEL deletes the node end the same way. Without Bun (or when libc cannot be loaded)
// `netlink()` is undefined and cni/links.ts runs `ip` as before.
import { CniError, ErrorCode } from "./errors";
import { cstr, type Libc, loadLibc } from "./libc";
import {
  CHANGE,
  CREATE,
  GET,
  LOOPBACK_IFINDEX,
  linkByName,
  linkUp,
  message,
  NLMSG_ERROR,
  newAddress,
  newDefaultRoute,
  newVeth,
  parseReplies,
  RTM_DELLINK,
  RTM_GETLINK,
  RTM_NEWADDR,
  RTM_NEWLINK,
  RTM_NEWROUTE,
  type VethSpec,
} from "./netlink-messages";

const AF_NETLINK = 16;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0o2000000;
const NETLINK_ROUTE = 0;
const O_RDONLY_CLOEXEC = 0o2000000;
const CLONE_NEWNET = 0x40000000;
export const ENODEV = 19;
export const EEXIST = 17;

const ERRNO_NAMES: Record<number, string> = {
  1: "Operation not permitted",
  2: "No such file or directory",
  16: "Device or resource busy",
  17: "File exists",
  19: "No such device",
  22: "Invalid argument",
  95: "Operation not supported",
  101: "Network is unreachable",
};
export const errnoText = (errno: number) => ERRNO_NAMES[errno] ?? `errno ${errno}`;

/** A request the kernel refused: the errno, named like ip(8) names it. */
export class NetlinkError extends Error {
  constructor(
    readonly what: string,
    readonly errno: number,
  ) {
    super(`${what}: ${errnoText(errno)}`);
  }
}

/** A NETLINK_ROUTE socket in the namespace this thread was in when it was opened. */
class RouteSocket {
  private seq = 0;
  private readonly buf = new Uint8Array(16384);
  private constructor(
    private readonly c: Libc,
    private readonly fd: number,
  ) {}

  static open(c: Libc): RouteSocket | undefined {
    const fd = c.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    return fd < 0 ? undefined : new RouteSocket(c, fd);
  }

  /** Sends one request and returns the kernel's answer; throws NetlinkError when refused. */
  request(what: string, type: number, flags: number, body: Uint8Array): { ifindex?: number } {
    this.seq += 1;
    const seq = this.seq;
    const msg = message(type, flags, seq, body);
    if (this.c.send(this.fd, msg, msg.length, 0) !== msg.length) throw new NetlinkError(what, this.c.errno());
    for (;;) {
      const n = this.c.recv(this.fd, this.buf, this.buf.length, 0);
      if (n < 0) throw new NetlinkError(what, this.c.errno());
      for (const reply of parseReplies(this.buf.subarray(0, n))) {
        if (reply.seq !== seq) continue;
        if (reply.type === NLMSG_ERROR && reply.errno) throw new NetlinkError(what, reply.errno);
        return { ifindex: reply.ifindex };
      }
    }
  }

  close(): void {
    this.c.close(this.fd);
  }
}

/** Opens a route socket inside the namespace at `path`, leaving this thread where it was. */
function socketIn(c: Libc, path: string): RouteSocket | undefined {
  const target = c.open(cstr(path), O_RDONLY_CLOEXEC, 0);
  if (target < 0) return undefined;
  const home = c.open(cstr("/proc/thread-self/ns/net"), O_RDONLY_CLOEXEC, 0);
  try {
    if (home < 0 || c.setns(target, CLONE_NEWNET) !== 0) return undefined;
    const sock = RouteSocket.open(c);
    if (c.setns(home, CLONE_NEWNET) !== 0) {
      // Nothing of this call may run in the pod's namespace: give up the process.
      throw new CniError(
        ErrorCode.NetworkSetupFailed,
        `cannot return to the node's network namespace: ${errnoText(c.errno())}`,
      );
    }
    return sock;
  } finally {
    if (home >= 0) c.close(home);
    c.close(target);
  }
}

export interface PodVethSpec extends Omit<VethSpec, "peerNetnsFd"> {
  /** The pod's network namespace, as a path. */
  netns: string;
  podIp: number;
  prefix: number;
  gateway: number;
}

/**
 * Makes the pair with its node end on the bridge and up, and its pod end in the pod with
 * the address and default route, and lo up. Returns "unavailable" (nothing done) when
 * netlink cannot be used here, "refused" (nothing made) when the kernel would not create
 * the pair; throws once the pair exists and a later step fails, after deleting it.
 */
export function createPodVeth(spec: PodVethSpec): "made" | "refused" | "unavailable" {
  const c = loadLibc();
  if (!c) return "unavailable";
  const node = RouteSocket.open(c);
  if (!node) return "unavailable";
  let pod: RouteSocket | undefined;
  const podFd = c.open(cstr(spec.netns), O_RDONLY_CLOEXEC, 0);
  try {
    pod = podFd < 0 ? undefined : socketIn(c, spec.netns);
    if (!pod) return "unavailable";
    try {
      node.request(`link add ${spec.name}`, RTM_NEWLINK, CREATE, newVeth({ ...spec, peerNetnsFd: podFd }));
    } catch (error) {
      if (error instanceof NetlinkError) return "refused";
      throw error;
    }
    try {
      configurePod(pod, spec);
    } catch (error) {
      try {
        node.request(`link del ${spec.name}`, RTM_DELLINK, CHANGE, linkByName(spec.name));
      } catch {
        // The caller's rollback deletes it again and reports the first error.
      }
      const reason = error instanceof Error ? error.message : String(error);
      throw new CniError(ErrorCode.NetworkSetupFailed, `netlink failed in ${spec.netns}: ${reason}`, reason);
    }
    return "made";
  } finally {
    pod?.close();
    node.close();
    if (podFd >= 0) c.close(podFd);
  }
}

function configurePod(pod: RouteSocket, spec: PodVethSpec): void {
  const { ifindex } = pod.request(`link show ${spec.peerName}`, RTM_GETLINK, GET, linkByName(spec.peerName));
  if (!ifindex) throw new Error(`${spec.peerName} has no ifindex in the pod`);
  pod.request("link set lo up", RTM_NEWLINK, CHANGE, linkUp(LOOPBACK_IFINDEX));
  pod.request(`link set ${spec.peerName} up`, RTM_NEWLINK, CHANGE, linkUp(ifindex));
  pod.request(`addr add dev ${spec.peerName}`, RTM_NEWADDR, CREATE, newAddress(ifindex, spec.podIp, spec.prefix));
  pod.request(`route add default dev ${spec.peerName}`, RTM_NEWROUTE, CREATE, newDefaultRoute(ifindex, spec.gateway));
}

/** Deletes a link in this namespace: true when deleted, false when there was none, undefined when netlink is unavailable. */
export function deleteLink(name: string): boolean | undefined {
  const c = loadLibc();
  const sock = c && RouteSocket.open(c);
  if (!sock) return undefined;
  try {
    sock.request(`link del ${name}`, RTM_DELLINK, CHANGE, linkByName(name));
    return true;
  } catch (error) {
    if (error instanceof NetlinkError && error.errno === ENODEV) return false;
    throw error;
  } finally {
    sock.close();
  }
}
