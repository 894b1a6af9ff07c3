// Run by Bun (test/fs.test.ts): does the same file calls through cni/fs.ts (libc under
// Bun) and through node:fs in the directory argv[2], and prints every difference as JSON.
import { spawnSync } from "node:child_process";
import * as real from "node:fs";
import * as mine from "../../cni/fs";
import { loadLibc } from "../../cni/libc";

const dir = process.argv[2];
const diffs: string[] = [];
const errorOf = (f: () => unknown) => {
  try {
    f();
    return "no error";
  } catch (e) {
    const { code, errno, syscall, path, message } = e as NodeJS.ErrnoException;
    return JSON.stringify({ code, errno, syscall, path, message });
  }
};
const same = (what: string, a: unknown, b: unknown) => {
  if (JSON.stringify(a) !== JSON.stringify(b))
    diffs.push(`${what}: cni/fs ${JSON.stringify(a)}, node:fs ${JSON.stringify(b)}`);
};
const stat = (s: real.Stats | undefined) =>
  s && [
    s.dev,
    s.ino,
    s.mode,
    s.nlink,
    s.uid,
    s.gid,
    s.size,
    Math.floor(s.mtimeMs),
    s.isFile(),
    s.isDirectory(),
    s.isSymbolicLink(),
    s.isFIFO(),
  ];

if (!loadLibc()) diffs.push("libc is not loaded: cni/fs.ts is node:fs here and this compares nothing");
mine.mkdirSync(`${dir}/a/b/c`, { recursive: true, mode: 0o750 });
mine.mkdirSync(`${dir}/a/b/c`, { recursive: true, mode: 0o750 });
mine.writeFileSync(`${dir}/f`, "hello\n");
mine.linkSync(`${dir}/f`, `${dir}/g`);
real.symlinkSync("f", `${dir}/l`);
spawnSync("mkfifo", [`${dir}/p`]);
const fd = mine.openSync(`${dir}/h`, mine.constants.O_WRONLY | mine.constants.O_CREAT | mine.constants.O_EXCL, 0o600);
same("write at position", mine.writeSync(fd, "0123456789", 0), 10);
same("write at position 2", mine.writeSync(fd, "ab", 3), 2);
mine.writeSync(fd, Buffer.from("xyzXYZ"), 3, 2, 8);
mine.closeSync(fd);
same("file written with positions", real.readFileSync(`${dir}/h`, "utf8"), "012ab567XY");
const rfd = mine.openSync(`${dir}/h`, mine.constants.O_RDONLY);
const buf = Buffer.alloc(8);
same("read at position", [mine.readSync(rfd, buf, 2, 4, 5), buf.toString("utf8", 2, 6)], [4, "567X"]);
same("fstat", stat(mine.fstatSync(rfd)), stat(real.fstatSync(rfd)));
mine.closeSync(rfd);
for (const p of ["f", "g", "l", "a", "a/b", "p", "missing"].map((n) => `${dir}/${n}`)) {
  same(
    `lstat ${p}`,
    stat(mine.lstatSync(p, { throwIfNoEntry: false })),
    stat(real.lstatSync(p, { throwIfNoEntry: false })),
  );
  same(
    `stat error ${p}`,
    errorOf(() => mine.statSync(p)),
    errorOf(() => real.statSync(p)),
  );
}
same("stat of a namespace", stat(mine.statSync("/proc/self/ns/net")), stat(real.statSync("/proc/self/ns/net")));
same(
  "stat through a file",
  errorOf(() => mine.lstatSync(`${dir}/f/x`, { throwIfNoEntry: false })),
  errorOf(() => real.lstatSync(`${dir}/f/x`, { throwIfNoEntry: false })),
);
const names = (
  entries: Array<{ name: string; isFile(): boolean; isDirectory(): boolean; isSymbolicLink(): boolean }>,
) => entries.map((e) => [e.name, e.isFile(), e.isDirectory(), e.isSymbolicLink()]).sort();
same(
  "readdir",
  names(mine.readdirSync(dir, { withFileTypes: true })),
  names(real.readdirSync(dir, { withFileTypes: true })),
);
same(
  "readdir error",
  errorOf(() => mine.readdirSync(`${dir}/missing`, { withFileTypes: true })),
  errorOf(() => real.readdirSync(`${dir}/missing`, { withFileTypes: true })),
);
same("readFile", mine.readFileSync(`${dir}/g`, "utf8"), "hello\n");
same("readlink", mine.readlinkSync(`${dir}/l`), real.readlinkSync(`${dir}/l`));
same("realpath", mine.realpathSync.native(`${dir}/a/b/../../l`), real.realpathSync.native(`${dir}/a/b/../../l`));
same(
  "link onto a name",
  errorOf(() => mine.linkSync(`${dir}/f`, `${dir}/g`)),
  errorOf(() => real.linkSync(`${dir}/f`, `${dir}/g`)),
);
same(
  "open O_NOFOLLOW",
  errorOf(() => mine.openSync(`${dir}/l`, mine.constants.O_RDONLY | mine.constants.O_NOFOLLOW)),
  errorOf(() => real.openSync(`${dir}/l`, real.constants.O_RDONLY | real.constants.O_NOFOLLOW)),
);
same(
  "open O_EXCL",
  errorOf(() => mine.openSync(`${dir}/f`, mine.constants.O_WRONLY | mine.constants.O_CREAT | mine.constants.O_EXCL)),
  errorOf(() => real.openSync(`${dir}/f`, real.constants.O_WRONLY | real.constants.O_CREAT | real.constants.O_EXCL)),
);
same(
  "unlink a directory",
  errorOf(() => mine.unlinkSync(`${dir}/a`)),
  errorOf(() => real.unlinkSync(`${dir}/a`)),
);
same(
  "access",
  errorOf(() => mine.accessSync(`${dir}/missing`, mine.constants.W_OK)),
  errorOf(() => real.accessSync(`${dir}/missing`, real.constants.W_OK)),
);
same(
  "mkdir onto a file",
  errorOf(() => mine.mkdirSync(`${dir}/f/`, { recursive: true })),
  errorOf(() => real.mkdirSync(`${dir}/f/`, { recursive: true })),
);
same(
  "mkdir over a file",
  errorOf(() => mine.mkdirSync(`${dir}/f/x`, { recursive: true })),
  errorOf(() => real.mkdirSync(`${dir}/f/x`, { recursive: true })),
);
for (const name of [
  "O_RDONLY",
  "O_WRONLY",
  "O_CREAT",
  "O_EXCL",
  "O_APPEND",
  "O_NONBLOCK",
  "O_NOFOLLOW",
  "W_OK",
  "X_OK",
] as const) {
  same(`constants.${name}`, mine.constants[name], real.constants[name]);
}
mine.unlinkSync(`${dir}/g`);
same("unlinked", real.existsSync(`${dir}/g`), false);
mine.rmSync(`${dir}/a`, { recursive: true, force: true });
same("removed", real.existsSync(`${dir}/a`), false);
console.log(JSON.stringify(diffs));
