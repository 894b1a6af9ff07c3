// Persistent IPAM, host-local style: one file per reserved IP, named by the IP and holding
// "<container id>\n<ifname>\n", so `cat` tells an operator who holds an address.
//
// Race-free without a lock: a reservation is made by link(2)-ing a fully written file
// named after the attachment (.attachment.<container id>:<ifname>) to the IP's name, which
// the kernel does atomically and refuses when the name exists. Two processes can never
// both own an address, and a process killed half-way leaves either no reservation or a
// complete one (plus the attachment file, which DEL removes). The attachment file stays
// as the reservation's second name: one lstat tells an ADD whether its attachment already
// holds an address, without reading every reservation. The spec forbids parallel calls
// for one container, so reusing that address needs no lock either.
//
// Reservations live under a directory named by the kernel's boot id: after a reboot no
// pod from the old boot is alive, so the old directory is dropped and never blocks a pod.
import { Stats, closeSync, constants, linkSync, lstatSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, unlinkSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { Attachment } from "./config";
import { CniError, ErrorCode } from "./errors";
import { Cidr, broadcastOf, cidrContainsIp, formatCidr, formatIPv4, parseIPv4 } from "./ipv4";

export const BOOT_ID_PATH = "/proc/sys/kernel/random/boot_id";
const LAST_RESERVED = "last_reserved_ip";
/** "255.255.255.255": the hint's fixed width, so every write covers the one before. */
const LAST_RESERVED_WIDTH = 15;
const ATTACHMENT_PREFIX = ".attachment.";
const BOOT_DIR = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** An unlinked attachment file older than this belongs to a dead ADD (an ADD takes milliseconds). */
const STALE_ATTACHMENT_MS = 60_000;

export interface Reservation {
  ip: string;
  containerId: string;
  ifname: string;
}

export function currentBootId(): string {
  return readFileSync(BOOT_ID_PATH, "utf8").trim();
}

function ioError(action: string, path: string, error: unknown): CniError {
  const err = error as NodeJS.ErrnoException;
  return new CniError(
    ErrorCode.IoFailure,
    `IPAM store: cannot ${action} ${path}: ${err.code ?? err.message}`,
    "check that dataDir is on a writable, local file system and the plugin runs as root",
  );
}

export class IpamStore {
  /** Directory of this boot's reservations: <dataDir>/<network>/<boot id>. */
  readonly dir: string;
  private readonly networkDir: string;

  constructor(
    dataDir: string,
    network: string,
    private readonly subnet: Cidr,
    private readonly bootId: string = currentBootId(),
  ) {
    this.networkDir = join(dataDir, network);
    this.dir = join(this.networkDir, bootId);
  }

  /** First and last address handed to pods: .2 up to broadcast-1 (.1 is the gateway). */
  get range(): { first: number; last: number } {
    return { first: this.subnet.network + 2, last: broadcastOf(this.subnet) - 1 };
  }

  get capacity(): number {
    return this.range.last - this.range.first + 1;
  }

  /** Every reservation of this boot. */
  list(): Reservation[] {
    return this.scan().filter((e) => !e.aux).map(({ ip, containerId, ifname }) => ({ ip, containerId, ifname }));
  }

  find(containerId: string, ifname: string): Reservation | undefined {
    return this.list().find((r) => r.containerId === containerId && r.ifname === ifname);
  }

  /**
   * Reserves an address for the attachment, or returns the one it already holds.
   * Round-robin from the last address handed out, so a freed address is not reused at once.
   */
  allocate(containerId: string, ifname: string): { ip: string; reused: boolean } {
    const attachment = this.attachmentFile(containerId, ifname);
    const held = lstatOrUndefined(attachment);
    if (held) {
      const existing = held.nlink > 1 ? this.find(containerId, ifname) : undefined;
      if (existing) return { ip: existing.ip, reused: true };
      this.remove(attachment); // left by an ADD killed before it reserved an address
    }
    const content = `${containerId}\n${ifname}\n`;
    try {
      writeFileSync(attachment, content, { mode: 0o644, flag: "wx" });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw ioError("write", attachment, e);
      // The first ADD of this boot: make the boot's directory, drop the ones before it.
      this.prepare();
      try {
        writeFileSync(attachment, content, { mode: 0o644, flag: "wx" });
      } catch (again) {
        throw ioError("write", attachment, again);
      }
    }
    let reserved = false;
    try {
      const { first, last } = this.range;
      const size = last - first + 1;
      const previous = this.lastReserved();
      const start = previous !== undefined && previous >= first && previous <= last ? previous + 1 - first : 0;
      for (let step = 0; step < size; step++) {
        const ip = formatIPv4(first + ((start + step) % size));
        try {
          linkSync(attachment, join(this.dir, ip));
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === "EEXIST") continue;
          throw ioError("reserve", join(this.dir, ip), e);
        }
        reserved = true;
        this.recordLastReserved(ip);
        return { ip, reused: false };
      }
    } finally {
      if (!reserved) this.remove(attachment);
    }
    throw new CniError(
      ErrorCode.SubnetExhausted,
      `no free address in ${formatCidr(this.subnet)}: all ${this.capacity} pod addresses are reserved`,
      `delete unused pods or let the runtime GC stale ones; reservations are files in ${this.dir}`,
    );
  }

  /** Releases whatever the attachment holds (addresses and its attachment file); idempotent. */
  release(containerId: string, ifname: string): string[] {
    // By name: an ADD killed between creating the file and writing it leaves it empty.
    this.remove(this.attachmentFile(containerId, ifname));
    const released: string[] = [];
    for (const entry of this.scan()) {
      if (entry.containerId === containerId && entry.ifname === ifname) {
        this.remove(entry.file);
        if (!entry.aux) released.push(entry.ip);
      }
    }
    return released;
  }

  /** GC: releases every reservation whose attachment the runtime no longer has. */
  gc(valid: Attachment[]): Reservation[] {
    const keep = new Set(valid.map((a) => `${a.containerId}\n${a.ifname}`));
    const released: Reservation[] = [];
    this.dropOtherBoots();
    const entries = this.scan().filter((e) => !keep.has(`${e.containerId}\n${e.ifname}`));
    for (const entry of entries.filter((e) => !e.aux)) {
      this.remove(entry.file);
      released.push({ ip: entry.ip, containerId: entry.containerId, ifname: entry.ifname });
    }
    // An attachment file goes with its reservation; one that never got an address only
    // once it is old enough not to belong to an ADD in flight.
    const releasedKeys = new Set(released.map((r) => `${r.containerId}\n${r.ifname}`));
    for (const entry of entries.filter((e) => e.aux)) {
      if (releasedKeys.has(`${entry.containerId}\n${entry.ifname}`) || Date.now() - entry.mtimeMs >= STALE_ATTACHMENT_MS) this.remove(entry.file);
    }
    return released;
  }

  private attachmentFile(containerId: string, ifname: string): string {
    return join(this.dir, `${ATTACHMENT_PREFIX}${containerId}:${ifname}`);
  }

  /** Creates this boot's directory and drops the ones older boots left. */
  private prepare(): void {
    try {
      mkdirSync(this.dir, { recursive: true, mode: 0o755 });
    } catch (e) {
      throw ioError("create", this.dir, e);
    }
    this.dropOtherBoots();
  }

  private dropOtherBoots(): void {
    let names: string[];
    try {
      names = readdirSync(this.networkDir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return;
      throw ioError("read", this.networkDir, e);
    }
    for (const name of names) {
      if (BOOT_DIR.test(name) && name !== this.bootId) rmSync(join(this.networkDir, name), { recursive: true, force: true });
    }
  }

  /** Reservations (named by IP) and attachment files ("aux"), with whom they name. */
  private scan(): Array<Reservation & { file: string; aux: boolean; mtimeMs: number }> {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw ioError("read", this.dir, e);
    }
    const entries: Array<Reservation & { file: string; aux: boolean; mtimeMs: number }> = [];
    for (const name of names) {
      const aux = name.startsWith(ATTACHMENT_PREFIX);
      const address = parseIPv4(name);
      if (!aux && (address === undefined || !cidrContainsIp(this.subnet, address))) continue;
      const file = join(this.dir, name);
      let content: string;
      try {
        content = readFileSync(file, "utf8");
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "ENOENT") continue; // released meanwhile
        throw ioError("read", file, e);
      }
      const [containerId = "", ifname = ""] = content.split("\n");
      entries.push({ ip: aux ? "" : name, containerId, ifname, file, aux, mtimeMs: aux ? (lstatOrUndefined(file)?.mtimeMs ?? 0) : 0 });
    }
    return entries;
  }

  private remove(file: string): void {
    try {
      unlinkSync(file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw ioError("remove", file, e);
    }
  }

  private lastReserved(): number | undefined {
    try {
      return parseIPv4(readFileSync(join(this.dir, LAST_RESERVED), "utf8").split("\n")[0].trim());
    } catch {
      return undefined;
    }
  }

  /**
   * Only a hint for round-robin: a reader that sees it half-written or a lost race just
   * starts its search elsewhere, and the reservation itself stays atomic. Written in place
   * at one fixed width instead of truncated and rewritten: on ext4 a truncate-and-write
   * makes close() start writing the file back (auto_da_alloc), measured 0.3 ms per ADD.
   */
  private recordLastReserved(ip: string): void {
    let fd: number | undefined;
    try {
      fd = openSync(join(this.dir, LAST_RESERVED), constants.O_WRONLY | constants.O_CREAT, 0o644);
      writeSync(fd, `${ip.padEnd(LAST_RESERVED_WIDTH)}\n`, 0);
    } catch {
      // Round-robin falls back to the start of the range.
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }
}

/** lstat without an exception for a missing file: building one costs more than the call. */
function lstatOrUndefined(file: string): Stats | undefined {
  try {
    return lstatSync(file, { throwIfNoEntry: false });
  } catch (e) {
    throw ioError("stat", file, e);
  }
}
