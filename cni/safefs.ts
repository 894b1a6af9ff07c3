// Files root reads and writes in its state directories, opened so that no entry can turn
// the call against it: never through a symbolic link (O_NOFOLLOW), never waiting on a
// FIFO (O_NONBLOCK), and used only when fstat(2) says it is a regular file.
import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  openSync,
  readSync,
  type Stats,
  unlinkSync,
  writeSync,
} from "./fs";

const SAFE = constants.O_NOFOLLOW | constants.O_NONBLOCK;
/** State files hold a few dozen bytes; anything this large is not one. */
const MAX_STATE_FILE = 64 * 1024;

/** What a non-regular entry is, for messages: "a directory", "a FIFO", ... */
export function kindOf(
  info: Pick<Stats, "isDirectory" | "isFIFO" | "isSocket" | "isSymbolicLink" | "isBlockDevice" | "isCharacterDevice">,
): string {
  if (info.isDirectory()) return "a directory";
  if (info.isFIFO()) return "a FIFO";
  if (info.isSocket()) return "a socket";
  if (info.isSymbolicLink()) return "a symbolic link";
  if (info.isBlockDevice() || info.isCharacterDevice()) return "a device";
  return "not a regular file";
}

/** Thrown for an entry that is there but is not a regular file. */
export class NotRegularFile extends Error {
  constructor(
    readonly path: string,
    readonly kind: string,
  ) {
    super(`${path} is ${kind}, not a regular file`);
  }
}

/** The content of a regular file; undefined when there is none. Throws NotRegularFile. */
export function readRegularFile(path: string): string | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | SAFE);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return undefined;
    if (code === "ELOOP") throw new NotRegularFile(path, "a symbolic link");
    throw e;
  }
  try {
    const info = fstatSync(fd);
    if (!info.isFile()) throw new NotRegularFile(path, kindOf(info));
    const buffer = Buffer.alloc(Math.min(info.size, MAX_STATE_FILE));
    let length = 0;
    while (length < buffer.length) {
      const n = readSync(fd, buffer, length, buffer.length - length, length);
      if (n === 0) break;
      length += n;
    }
    return buffer.toString("utf8", 0, length);
  } finally {
    closeSync(fd);
  }
}

/**
 * Creates `path` with `content`, or nothing: a failed write (ENOSPC, EDQUOT) removes the
 * file it created. Fails with EEXIST when the name exists, even as a link.
 */
export function writeNewFile(path: string, content: string, mode: number): void {
  const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | SAFE, mode);
  try {
    const bytes = Buffer.from(content);
    let written = 0;
    while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written, written);
  } catch (e) {
    closeSync(fd);
    try {
      unlinkSync(path);
    } catch {
      // Already gone; the write's error is what matters.
    }
    throw e;
  }
  closeSync(fd);
}

/**
 * Opens an existing or new regular file for writing; undefined when the name is taken by
 * anything else (checked with lstat first, so a FIFO or device is never opened) or by a
 * file with a second name (a hard link to a file elsewhere).
 */
export function openRegularForWrite(path: string, flags: number, mode: number): number | undefined {
  const seen = lstatSync(path, { throwIfNoEntry: false });
  if (seen && (!seen.isFile() || seen.nlink > 1)) return undefined;
  const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | SAFE | flags, mode);
  const info = fstatSync(fd);
  if (!info.isFile() || info.nlink > 1) {
    closeSync(fd);
    return undefined;
  }
  return fd;
}
