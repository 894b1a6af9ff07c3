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
//
// Root works in this store on behalf of whoever can write in it, so it must be root's
// alone (cni/trust.ts), and nothing in it is followed or waited on: the network and boot
// directories must be real directories, files are opened with O_NOFOLLOW|O_NONBLOCK
// (cni/safefs.ts), and entries that are not regular files are skipped and reported
// (`warnings`), so stray state never blocks a DEL.

import type { Attachment } from "./config";
import { CniError, ErrorCode } from "./errors";
import {
  closeSync,
  type Dirent,
  linkSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  type Stats,
  unlinkSync,
  writeSync,
} from "./fs";
import { fnv1a64 } from "./hash";
import { broadcastOf, type Cidr, cidrContainsIp, formatCidr, formatIPv4, parseIPv4 } from "./ipv4";
import { join } from "./path";
import { kindOf, NotRegularFile, openRegularForWrite, readRegularFile, writeNewFile } from "./safefs";
import { entryProblem, trustFix, type Untrusted, untrustedPath } from "./trust";

export const BOOT_ID_PATH = "/proc/sys/kernel/random/boot_id";
const LAST_RESERVED = "last_reserved_ip";
/** "255.255.255.255": the hint's fixed width, so every write covers the one before. */
const LAST_RESERVED_WIDTH = 15;
const ATTACHMENT_PREFIX = ".attachment.";
const BOOT_DIR = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** An unlinked attachment file older than this belongs to a dead ADD (an ADD takes milliseconds). */
const STALE_ATTACHMENT_MS = 60_000;
/** NAME_MAX of Linux file systems: a longer name fails with ENAMETOOLONG. */
const NAME_MAX = 255;
/** How much of a long container id an attachment file's name keeps, before its digest. */
const LONG_ID_KEPT = 200;

export interface Reservation {
  ip: string;
  containerId: string;
  ifname: string;
}

/** A file of the store: a reservation (named by its IP) or an attachment file, with whom it names. */
interface StoreEntry extends Reservation {
  file: string;
  /** An attachment file (.attachment.<container id>:<ifname>); its ip is "". */
  isAttachmentFile: boolean;
  /** Attachment files only: when it was written, to tell a dead ADD's file from one in flight. */
  mtimeMs: number;
}

export function currentBootId(): string {
  return readFileSync(BOOT_ID_PATH, "utf8").trim();
}

/**
 * The attachment file's name. libcni only checks a container id's characters, not its
 * length: an id too long for a file name is cut and followed by a digest of the whole id
 * ('~' never occurs in an id), and the file itself holds the whole id.
 */
export function attachmentFileName(containerId: string, ifname: string): string {
  const plain = `${ATTACHMENT_PREFIX}${containerId}:${ifname}`;
  if (Buffer.byteLength(plain) <= NAME_MAX) return plain;
  return `${ATTACHMENT_PREFIX}${containerId.slice(0, LONG_ID_KEPT)}~${fnv1a64(`${containerId}\n${ifname}`)}:${ifname}`;
}

function ioError(action: string, path: string, error: unknown): CniError {
  const err = error as NodeJS.ErrnoException;
  return new CniError(
    ErrorCode.IoFailure,
    `IPAM store: cannot ${action} ${path}: ${err.code ?? err.message}`,
    "check that dataDir is on a writable, local file system and the plugin runs as root",
  );
}

function untrustedError(dataDir: string, problem: Untrusted): CniError {
  return new CniError(
    ErrorCode.IoFailure,
    `IPAM store: cannot use dataDir ${dataDir}: ${problem.path} is ${problem.reason}`,
    `${trustFix(problem)}, or set "dataDir" to a directory only root can write`,
  );
}

export class IpamStore {
  /** Directory of this boot's reservations: <dataDir>/<network>/<boot id>. */
  readonly dir: string;
  private readonly networkDir: string;
  /** Whether the store passed the trust check since it was last changed. */
  private trusted = false;
  private readonly skipped = new Set<string>();

  constructor(
    private readonly dataDir: string,
    network: string,
    private readonly subnet: Cidr,
    private readonly bootId: string = currentBootId(),
  ) {
    this.networkDir = join(dataDir, network);
    this.dir = join(this.networkDir, bootId);
  }

  /** Entries this call skipped because they are not regular files: for the log. */
  get warnings(): string[] {
    return [...this.skipped];
  }

  /**
   * Refuses (code 5) a store others could change: dataDir and every directory above it
   * must be root's and not writable by group or others; the network and boot directories
   * must be such directories themselves, never links.
   */
  verify(): void {
    if (this.trusted) return;
    const problem = untrustedPath(this.dataDir);
    if (problem) throw untrustedError(this.dataDir, problem);
    for (const dir of [this.networkDir, this.dir]) {
      const info = lstatOrUndefined(dir);
      if (!info) break;
      const reason = info.isSymbolicLink()
        ? "a symbolic link (the store never follows links inside dataDir)"
        : entryProblem(info, true);
      if (reason) throw untrustedError(this.dataDir, { path: dir, reason });
    }
    this.trusted = true;
  }

  /** Creates this boot's directory (STATUS, the first ADD of a boot) and checks it. */
  create(): void {
    try {
      mkdirSync(this.dir, { recursive: true, mode: 0o755 });
    } catch (e) {
      throw ioError("create", this.dir, e);
    }
    this.trusted = false;
    this.verify();
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
    this.verify();
    return this.scan()
      .filter((e) => !e.isAttachmentFile)
      .map(({ ip, containerId, ifname }) => ({ ip, containerId, ifname }));
  }

  find(containerId: string, ifname: string): Reservation | undefined {
    return this.list().find((r) => r.containerId === containerId && r.ifname === ifname);
  }

  /**
   * Reserves an address for the attachment, or returns the one it already holds.
   * Round-robin from the last address handed out, so a freed address is not reused at once.
   */
  allocate(containerId: string, ifname: string): { ip: string; reused: boolean } {
    this.verify();
    const attachment = this.attachmentFile(containerId, ifname);
    const held = lstatOrUndefined(attachment);
    if (held && !held.isFile()) {
      throw new CniError(
        ErrorCode.IoFailure,
        `IPAM store: ${attachment} is ${kindOf(held)}, not an attachment file`,
        `remove it: rm -r ${attachment}`,
      );
    }
    if (held) {
      const existing = held.nlink > 1 ? this.find(containerId, ifname) : undefined;
      if (existing) return { ip: existing.ip, reused: true };
      this.remove(attachment); // left by an ADD killed before it reserved an address
    }
    const content = `${containerId}\n${ifname}\n`;
    try {
      writeNewFile(attachment, content, 0o644);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw ioError("write", attachment, e);
      // The first ADD of this boot: make the boot's directory, drop the ones before it.
      this.create();
      this.dropOtherBoots();
      try {
        writeNewFile(attachment, content, 0o644);
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
    this.verify();
    // By name: an ADD killed between creating the file and writing it leaves it empty.
    this.remove(this.attachmentFile(containerId, ifname));
    const released: string[] = [];
    for (const entry of this.scan()) {
      if (entry.containerId === containerId && entry.ifname === ifname) {
        this.remove(entry.file);
        if (!entry.isAttachmentFile) released.push(entry.ip);
      }
    }
    return released;
  }

  /** GC: releases every reservation whose attachment the runtime no longer has. */
  gc(valid: Attachment[]): Reservation[] {
    const keep = new Set(valid.map((a) => `${a.containerId}\n${a.ifname}`));
    const released: Reservation[] = [];
    this.verify();
    this.dropOtherBoots();
    const entries = this.scan().filter((e) => !keep.has(`${e.containerId}\n${e.ifname}`));
    for (const entry of entries.filter((e) => !e.isAttachmentFile)) {
      this.remove(entry.file);
      released.push({ ip: entry.ip, containerId: entry.containerId, ifname: entry.ifname });
    }
    // An attachment file goes with its reservation; one that never got an address only
    // once it is old enough not to belong to an ADD in flight.
    const releasedKeys = new Set(released.map((r) => `${r.containerId}\n${r.ifname}`));
    for (const entry of entries.filter((e) => e.isAttachmentFile)) {
      if (
        releasedKeys.has(`${entry.containerId}\n${entry.ifname}`) ||
        Date.now() - entry.mtimeMs >= STALE_ATTACHMENT_MS
      )
        this.remove(entry.file);
    }
    return released;
  }

  private attachmentFile(containerId: string, ifname: string): string {
    return join(this.dir, attachmentFileName(containerId, ifname));
  }

  /** Drops the directories of earlier boots (a link named like one is removed, not followed). */
  private dropOtherBoots(): void {
    let entries: Dirent[];
    try {
      entries = readdirSync(this.networkDir, { withFileTypes: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return;
      throw ioError("read", this.networkDir, e);
    }
    for (const entry of entries) {
      if (!BOOT_DIR.test(entry.name) || entry.name === this.bootId) continue;
      const path = join(this.networkDir, entry.name);
      if (entry.isDirectory()) rmSync(path, { recursive: true, force: true });
      else this.remove(path);
    }
  }

  /** Reservations and attachment files of this boot. */
  private scan(): StoreEntry[] {
    let dirents: Dirent[];
    try {
      dirents = readdirSync(this.dir, { withFileTypes: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw ioError("read", this.dir, e);
    }
    const entries: StoreEntry[] = [];
    for (const dirent of dirents) {
      const name = dirent.name;
      const isAttachmentFile = name.startsWith(ATTACHMENT_PREFIX);
      const address = parseIPv4(name);
      if (!isAttachmentFile && (address === undefined || !cidrContainsIp(this.subnet, address))) continue;
      const file = join(this.dir, name);
      // The directory entry's type is the lstat: anything but a regular file is never opened.
      if (!dirent.isFile()) {
        this.skip(file, kindOf(dirent));
        continue;
      }
      let content: string | undefined;
      try {
        content = readRegularFile(file);
      } catch (e) {
        if (e instanceof NotRegularFile) {
          this.skip(file, e.kind);
          continue;
        }
        throw ioError("read", file, e);
      }
      if (content === undefined) continue; // released meanwhile
      const [containerId = "", ifname = ""] = content.split("\n");
      const mtimeMs = isAttachmentFile ? (lstatOrUndefined(file)?.mtimeMs ?? 0) : 0;
      entries.push({ ip: isAttachmentFile ? "" : name, containerId, ifname, file, isAttachmentFile, mtimeMs });
    }
    return entries;
  }

  private skip(file: string, kind: string): void {
    this.skipped.add(`skipped ${file}: ${kind}, not a reservation file`);
  }

  /** Removes a file by name; a directory by that name is skipped and reported, never emptied. */
  private remove(file: string): void {
    try {
      unlinkSync(file);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "EISDIR") this.skip(file, "a directory");
      else if (code !== "ENOENT") throw ioError("remove", file, e);
    }
  }

  private lastReserved(): number | undefined {
    try {
      return parseIPv4((readRegularFile(join(this.dir, LAST_RESERVED)) ?? "").split("\n")[0].trim());
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
      fd = openRegularForWrite(join(this.dir, LAST_RESERVED), 0, 0o644);
      if (fd !== undefined) writeSync(fd, `${ip.padEnd(LAST_RESERVED_WIDTH)}\n`, 0);
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
