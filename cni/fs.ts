// The file calls the plugin makes, with node:fs's names and behaviour. Under Bun they are
// libc calls through bun:ffi (cni/libc.ts): Bun's node:fs module takes about 1.8 ms to load,
// a tenth of a pod's ADD, and the plugin needs a dozen of its functions. Under Node (the
// tests import the modules) and for the rare recursive rmSync, node:fs itself.
import type * as NodeFs from "node:fs";
import { cstr, type Libc, loadLibc } from "./libc";

const node = (): typeof NodeFs => require("node:fs");
const c = loadLibc();

// Linux's values; O_NOFOLLOW and O_DIRECTORY differ on arm64.
const ARM64 = process.arch === "arm64";
const O = {
  O_RDONLY: 0,
  O_WRONLY: 1,
  O_CREAT: 0o100,
  O_EXCL: 0o200,
  O_TRUNC: 0o1000,
  O_APPEND: 0o2000,
  O_NONBLOCK: 0o4000,
  O_NOFOLLOW: ARM64 ? 0o100000 : 0o400000,
  O_CLOEXEC: 0o2000000,
  F_OK: 0,
  W_OK: 2,
  X_OK: 1,
};

/** errno: [code, message] as node:fs (libuv) words them; the numbers are the same on x86_64 and arm64. */
const ERRORS: Record<number, [string, string]> = {
  1: ["EPERM", "operation not permitted"],
  2: ["ENOENT", "no such file or directory"],
  4: ["EINTR", "interrupted system call"],
  5: ["EIO", "i/o error"],
  6: ["ENXIO", "no such device or address"],
  9: ["EBADF", "bad file descriptor"],
  11: ["EAGAIN", "resource temporarily unavailable"],
  12: ["ENOMEM", "not enough memory"],
  13: ["EACCES", "permission denied"],
  16: ["EBUSY", "resource busy or locked"],
  17: ["EEXIST", "file already exists"],
  18: ["EXDEV", "cross-device link not permitted"],
  19: ["ENODEV", "no such device"],
  20: ["ENOTDIR", "not a directory"],
  21: ["EISDIR", "illegal operation on a directory"],
  22: ["EINVAL", "invalid argument"],
  23: ["ENFILE", "file table overflow"],
  24: ["EMFILE", "too many open files"],
  26: ["ETXTBSY", "text file is busy"],
  27: ["EFBIG", "file too large"],
  28: ["ENOSPC", "no space left on device"],
  30: ["EROFS", "read-only file system"],
  31: ["EMLINK", "too many links"],
  36: ["ENAMETOOLONG", "name too long"],
  39: ["ENOTEMPTY", "directory not empty"],
  40: ["ELOOP", "too many symbolic links encountered"],
  122: ["EDQUOT", "disk quota exceeded"],
};

/** An error shaped like node:fs's: code, errno, syscall, path (and dest) and its message. */
function fail(l: Libc, syscall: string, path?: string, errno = l.errno(), dest?: string): never {
  const [code, text] = ERRORS[errno] ?? [`E${errno}`, l.cstring(l.strerror(errno)).toLowerCase()];
  const where = path === undefined ? "" : ` '${path}'${dest === undefined ? "" : ` -> '${dest}'`}`;
  const e = new Error(`${code}: ${text}, ${syscall}${where}`) as NodeJS.ErrnoException;
  Object.assign(e, {
    errno: -errno,
    code,
    syscall,
    ...(path === undefined ? {} : { path }),
    ...(dest === undefined ? {} : { dest }),
  });
  throw e;
}

const AT_FDCWD = -100;
const AT_SYMLINK_NOFOLLOW = 0x100;
const AT_EMPTY_PATH = 0x1000;
const STATX_BASIC_STATS = 0x7ff;
const S_IFMT = 0o170000;

/** fs.Stats from a struct statx (the same layout on every architecture). */
class Stat {
  readonly dev: number;
  readonly ino: number;
  readonly mode: number;
  readonly nlink: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: number;
  readonly mtimeMs: number;
  constructor(b: Uint8Array) {
    const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const u64 = (at: number) => v.getUint32(at, true) + v.getUint32(at + 4, true) * 2 ** 32;
    this.nlink = v.getUint32(16, true);
    this.uid = v.getUint32(20, true);
    this.gid = v.getUint32(24, true);
    this.mode = v.getUint16(28, true);
    this.ino = u64(32);
    this.size = u64(40);
    this.mtimeMs = u64(112) * 1000 + v.getUint32(120, true) / 1e6;
    // glibc's makedev(), as st_dev reads under Node.
    const major = v.getUint32(136, true);
    const minor = v.getUint32(140, true);
    this.dev =
      (major & 0xfff) * 256 + (minor & 0xff) + Math.floor(minor / 256) * 2 ** 20 + Math.floor(major / 4096) * 2 ** 44;
  }
  private is(type: number): boolean {
    return (this.mode & S_IFMT) === type;
  }
  isFile = () => this.is(0o100000);
  isDirectory = () => this.is(0o040000);
  isSymbolicLink = () => this.is(0o120000);
  isFIFO = () => this.is(0o010000);
  isSocket = () => this.is(0o140000);
  isBlockDevice = () => this.is(0o060000);
  isCharacterDevice = () => this.is(0o020000);
}

function statx(
  l: Libc,
  syscall: string,
  dirfd: number,
  path: string,
  flags: number,
  missingOk = false,
): Stat | undefined {
  const buf = new Uint8Array(256);
  if (l.statx(dirfd, cstr(path), flags, STATX_BASIC_STATS, buf) === 0) return new Stat(buf);
  const errno = l.errno();
  if (missingOk && errno === 2) return undefined;
  return fail(l, syscall, dirfd === AT_FDCWD ? path : undefined, errno);
}

type Data = string | Uint8Array;
const bytesOf = (data: Data): Uint8Array => (typeof data === "string" ? Buffer.from(data) : data);

/** One write(2)/pwrite(2) of `bytes[offset, offset+length)`; returns the count written. */
function writeOnce(
  l: Libc,
  fd: number,
  bytes: Uint8Array,
  offset: number,
  length: number,
  position?: number | null,
): number {
  if (length === 0) return 0;
  const p = l.address(bytes, offset);
  const n = typeof position === "number" ? l.pwrite(fd, p, length, position) : l.write(fd, p, length);
  return n < 0 ? fail(l, "write") : Number(n);
}

function readAll(l: Libc, fd: number): Buffer {
  const chunks: Buffer[] = [];
  for (;;) {
    const chunk = Buffer.allocUnsafe(65536);
    const n = Number(l.read(fd, l.address(chunk, 0), chunk.length));
    if (n < 0) fail(l, "read");
    if (n === 0) return Buffer.concat(chunks);
    chunks.push(chunk.subarray(0, n));
  }
}

/** mkdir -p: a directory already there is fine; a file in the way fails at the next level (ENOTDIR), or as `path` when last. */
function mkdirRecursive(l: Libc, path: string, mode: number): void {
  const parts = path.replace(/\/+$/, "").split("/");
  for (let i = 2; i <= parts.length; i++) {
    const dir = parts.slice(0, i).join("/");
    if (!dir || l.mkdir(cstr(dir), mode) === 0) continue;
    const errno = l.errno();
    const last = i === parts.length;
    if (errno === 17 && (!last || statx(l, "mkdir", AT_FDCWD, dir, 0)?.isDirectory())) continue;
    fail(l, "mkdir", last ? path : dir, errno);
  }
}

function readdirTyped(l: Libc, path: string): LibcDirent[] {
  const dir = l.opendir(cstr(path));
  if (!dir) return fail(l, "scandir", path);
  const entries: LibcDirent[] = [];
  try {
    for (let d = l.readdir(dir); d; d = l.readdir(dir)) {
      // struct dirent: d_ino 8, d_off 8, d_reclen 2, d_type 1, then d_name.
      const name = l.cstring(d, 19);
      if (name !== "." && name !== "..") entries.push(new LibcDirent(l, path, name, l.u8(d, 18)));
    }
  } finally {
    l.closedir(dir);
  }
  return entries;
}

function realpath(l: Libc, path: string): string {
  const p = l.realpath(cstr(path), null);
  if (!p) return fail(l, "realpath", path);
  const resolved = l.cstring(p);
  l.free(p);
  return resolved;
}

/** The calls on file descriptors, and whole-file reads and writes. */
function fdCalls(l: Libc) {
  const openSync = (path: string, flags: number, mode = 0o666): number => {
    const fd = l.open(cstr(path), flags | O.O_CLOEXEC, mode);
    return fd < 0 ? fail(l, "open", path) : fd;
  };
  const closeSync = (fd: number): void => {
    if (l.close(fd) !== 0) fail(l, "close");
  };
  return {
    openSync,
    closeSync,
    readSync: (fd: number, buffer: Uint8Array, offset: number, length: number, position?: number | null): number => {
      const p = l.address(buffer, offset);
      const n = typeof position === "number" ? l.pread(fd, p, length, position) : l.read(fd, p, length);
      return n < 0 ? fail(l, "read") : Number(n);
    },
    writeSync: (fd: number, data: Data, offsetOrPosition?: number, length?: number, position?: number): number => {
      const bytes = bytesOf(data);
      // writeSync(fd, string, position) or writeSync(fd, buffer, offset, length, position).
      if (typeof data === "string") return writeOnce(l, fd, bytes, 0, bytes.length, offsetOrPosition);
      const offset = offsetOrPosition ?? 0;
      return writeOnce(l, fd, bytes, offset, length ?? bytes.length - offset, position);
    },
    fstatSync: (fd: number) => statx(l, "fstat", fd, "", AT_EMPTY_PATH) as Stat,
    readFileSync: (file: string | number, _encoding: "utf8"): string => {
      if (typeof file === "number") return readAll(l, file).toString("utf8");
      const fd = openSync(file, O.O_RDONLY);
      try {
        return readAll(l, fd).toString("utf8");
      } finally {
        closeSync(fd);
      }
    },
    writeFileSync: (file: string, data: Data): void => {
      const fd = openSync(file, O.O_WRONLY | O.O_CREAT | O.O_TRUNC);
      try {
        const bytes = bytesOf(data);
        let written = 0;
        while (written < bytes.length) written += writeOnce(l, fd, bytes, written, bytes.length - written);
      } finally {
        closeSync(fd);
      }
    },
  };
}

/** The calls on names. */
function pathCalls(l: Libc) {
  const check = (syscall: string, path: string, rc: number): void => {
    if (rc !== 0) fail(l, syscall, path);
  };
  const realpathSync = (path: string): string => realpath(l, path);
  realpathSync.native = realpathSync;
  return {
    statSync: (path: string) => statx(l, "stat", AT_FDCWD, path, 0) as Stat,
    lstatSync: (path: string, options?: { throwIfNoEntry?: boolean }) =>
      statx(l, "lstat", AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, options?.throwIfNoEntry === false),
    linkSync: (from: string, to: string): void => {
      if (l.link(cstr(from), cstr(to)) !== 0) fail(l, "link", from, l.errno(), to);
    },
    unlinkSync: (path: string) => check("unlink", path, l.unlink(cstr(path))),
    accessSync: (path: string, mode = O.F_OK) => check("access", path, l.access(cstr(path), mode)),
    mkdirSync: (path: string, options?: { recursive?: boolean; mode?: number }): void => {
      const mode = options?.mode ?? 0o777;
      if (options?.recursive) mkdirRecursive(l, path, mode);
      else check("mkdir", path, l.mkdir(cstr(path), mode));
    },
    readlinkSync: (path: string): string => {
      const buf = new Uint8Array(4096);
      const n = Number(l.readlink(cstr(path), buf, buf.length));
      return n < 0 ? fail(l, "readlink", path) : Buffer.from(buf.buffer, 0, n).toString("utf8");
    },
    realpathSync,
    readdirSync: (path: string, _options: { withFileTypes: true }) => readdirTyped(l, path),
    rmSync: (path: string, options?: NodeFs.RmOptions) => node().rmSync(path, options),
  };
}

const libcFs = (l: Libc) => ({ constants: O, ...fdCalls(l), ...pathCalls(l) });

const DT_MODES: Record<number, number> = {
  1: 0o010000,
  2: 0o020000,
  4: 0o040000,
  6: 0o060000,
  8: 0o100000,
  10: 0o120000,
  12: 0o140000,
};

/** fs.Dirent: the type readdir(3) reports, or lstat's when the file system reports none. */
class LibcDirent {
  private readonly type: number;
  constructor(
    l: Libc,
    readonly parentPath: string,
    readonly name: string,
    dtype: number,
  ) {
    this.type =
      DT_MODES[dtype] ??
      (statx(l, "lstat", AT_FDCWD, `${parentPath}/${name}`, AT_SYMLINK_NOFOLLOW, true)?.mode ?? 0) & S_IFMT;
  }
  isFile = () => this.type === 0o100000;
  isDirectory = () => this.type === 0o040000;
  isSymbolicLink = () => this.type === 0o120000;
  isFIFO = () => this.type === 0o010000;
  isSocket = () => this.type === 0o140000;
  isBlockDevice = () => this.type === 0o060000;
  isCharacterDevice = () => this.type === 0o020000;
}

type Api = Pick<
  typeof NodeFs,
  | "accessSync"
  | "closeSync"
  | "constants"
  | "fstatSync"
  | "linkSync"
  | "lstatSync"
  | "mkdirSync"
  | "openSync"
  | "readFileSync"
  | "readSync"
  | "readdirSync"
  | "readlinkSync"
  | "realpathSync"
  | "rmSync"
  | "statSync"
  | "unlinkSync"
  | "writeFileSync"
  | "writeSync"
>;

const fs: Api = c ? (libcFs(c) as unknown as Api) : node();

export const {
  accessSync,
  closeSync,
  constants,
  fstatSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  readdirSync,
  readlinkSync,
  realpathSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} = fs;
export type { Dirent, Stats } from "node:fs";
