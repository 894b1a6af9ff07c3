// How the build writes its outputs, so that whoever builds next can replace them.
//   - Atomically: the file is written beside its final name and renamed over it. A rename
//     needs write access to the directory only, so a dist/podnet left by a build as root
//     (`sudo npm run lab`) never has to be opened for writing by the user's next build.
//   - Owned by the checkout's owner: a build as root gives what it makes in the checkout
//     to the user who owns the checkout (the one who ran sudo), so nothing root-owned is
//     left in it. A checkout owned by root stays root's.
import { chmodSync, chownSync, mkdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

/** The uid/gid outputs must get: the checkout's owner when we are root and it is not. */
export function outputOwner(checkout) {
  if (process.getuid?.() !== 0) return undefined;
  const { uid, gid } = statSync(checkout);
  return uid === 0 ? undefined : { uid, gid };
}

/** mkdir -p that gives the directory to the checkout's owner. */
export function makeOutputDir(dir, checkout) {
  mkdirSync(dir, { recursive: true });
  const owner = outputOwner(checkout);
  if (owner) chownSync(dir, owner.uid, owner.gid);
}

/** Writes one output file atomically, with its mode, owned by the checkout's owner. */
export function writeOutput(path, contents, mode, checkout) {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, contents);
    chmodSync(tmp, mode); // exactly this mode, whatever the umask
    const owner = outputOwner(checkout);
    if (owner) chownSync(tmp, owner.uid, owner.gid);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    if (e.code === "EACCES" || e.code === "EPERM") {
      const dir = dirname(path);
      throw new Error(
        `cannot write ${path}: ${dir} is not writable by this user (a build as root made it, before builds gave their outputs back).\n` +
          `  fix: sudo chown -R "$(id -u):$(id -g)" ${dir}`,
      );
    }
    throw e;
  }
}
