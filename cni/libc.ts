// libc through Bun's FFI, loaded once per process for cni/netlink.ts and cni/fs.ts.
// Without Bun (the tests import the modules under Node) or when libc cannot be loaded,
// `loadLibc()` is undefined and the callers use Node's APIs or `ip`.

type Ptr = number | null;

/** The libc functions the plugin calls; pointers are TypedArrays or addresses. */
export interface Libc {
  socket(domain: number, type: number, protocol: number): number;
  send(fd: number, buf: Uint8Array, len: number, flags: number): number;
  recv(fd: number, buf: Uint8Array, len: number, flags: number): number;
  open(path: Uint8Array, flags: number, mode: number): number;
  setns(fd: number, nstype: number): number;
  close(fd: number): number;
  read(fd: number, buf: Ptr, len: number): number;
  write(fd: number, buf: Ptr, len: number): number;
  pread(fd: number, buf: Ptr, len: number, offset: number): number;
  pwrite(fd: number, buf: Ptr, len: number, offset: number): number;
  statx(dirfd: number, path: Uint8Array, flags: number, mask: number, buf: Uint8Array): number;
  link(from: Uint8Array, to: Uint8Array): number;
  unlink(path: Uint8Array): number;
  mkdir(path: Uint8Array, mode: number): number;
  access(path: Uint8Array, mode: number): number;
  readlink(path: Uint8Array, buf: Uint8Array, size: number): number;
  realpath(path: Uint8Array, resolved: null): Ptr;
  free(p: Ptr): void;
  opendir(path: Uint8Array): Ptr;
  readdir(dir: Ptr): Ptr;
  closedir(dir: Ptr): number;
  strerror(errno: number): Ptr;
  errno(): number;
  /** The NUL-terminated string at `p` (+ `offset`). */
  cstring(p: Ptr, offset?: number): string;
  /** The byte at `p` + `offset`. */
  u8(p: Ptr, offset: number): number;
  /** The address of `buf`'s byte `offset`, for read/write into part of a buffer. */
  address(buf: Uint8Array, offset: number): Ptr;
}

const SYMBOLS = {
  socket: { args: ["i32", "i32", "i32"], returns: "i32" },
  send: { args: ["i32", "ptr", "u64", "i32"], returns: "i32" },
  recv: { args: ["i32", "ptr", "u64", "i32"], returns: "i32" },
  open: { args: ["ptr", "i32", "u32"], returns: "i32" },
  setns: { args: ["i32", "i32"], returns: "i32" },
  close: { args: ["i32"], returns: "i32" },
  read: { args: ["i32", "ptr", "u64"], returns: "i64" },
  write: { args: ["i32", "ptr", "u64"], returns: "i64" },
  pread: { args: ["i32", "ptr", "u64", "i64"], returns: "i64" },
  pwrite: { args: ["i32", "ptr", "u64", "i64"], returns: "i64" },
  statx: { args: ["i32", "ptr", "i32", "u32", "ptr"], returns: "i32" },
  link: { args: ["ptr", "ptr"], returns: "i32" },
  unlink: { args: ["ptr"], returns: "i32" },
  mkdir: { args: ["ptr", "u32"], returns: "i32" },
  access: { args: ["ptr", "i32"], returns: "i32" },
  readlink: { args: ["ptr", "ptr", "u64"], returns: "i64" },
  realpath: { args: ["ptr", "ptr"], returns: "ptr" },
  free: { args: ["ptr"], returns: "void" },
  opendir: { args: ["ptr"], returns: "ptr" },
  readdir: { args: ["ptr"], returns: "ptr" },
  closedir: { args: ["ptr"], returns: "i32" },
  strerror: { args: ["i32"], returns: "ptr" },
  __errno_location: { args: [], returns: "ptr" },
};

let libc: Libc | undefined | null = null;

/** libc through bun:ffi, loaded once; undefined without Bun. */
export function loadLibc(): Libc | undefined {
  if (libc !== null) return libc;
  libc = undefined;
  if (!(process.versions as Record<string, string | undefined>).bun) return undefined;
  try {
    // A plain require: esbuild leaves bun:* to the runtime (cni/build.mjs).
    const ffi = require("bun:ffi");
    const s = ffi.dlopen("libc.so.6", SYMBOLS).symbols;
    // i64 results come back as numbers when they fit, which a byte count always does.
    libc = {
      ...s,
      errno: () => ffi.read.i32(s.__errno_location(), 0),
      cstring: (p: Ptr, offset = 0) => new ffi.CString(p, offset).toString(),
      u8: (p: Ptr, offset: number) => ffi.read.u8(p, offset),
      address: (buf: Uint8Array, offset: number) => ffi.ptr(buf, offset),
    } as Libc;
  } catch {
    libc = undefined;
  }
  return libc;
}

/** A path as the NUL-terminated bytes libc takes. */
export const cstr = (s: string): Uint8Array => Buffer.from(`${s}\0`);
