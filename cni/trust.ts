// Which directories root may keep state in. The plugin runs as root on paths a config
// names: if another user could rename, replace or add entries anywhere on the way to
// them, that user could turn the plugin's writes and deletions against files of their
// choosing. So every directory from the path up to / must be root's (or the plugin's
// own user's) and not writable by group or others. An ancestor that others may write
// is tolerated only with the sticky bit (/tmp): then nobody else can rename or remove
// root's entries in it. A symlink on the way must be root's too, and its target is
// checked the same way.
import { lstatSync, realpathSync, type Stats } from "./fs";
import { dirname, resolve } from "./path";

export interface TrustOptions {
  /**
   * The path itself may be group-writable (a log directory such as Ubuntu's /var/log,
   * root:syslog 0775): whatever is written there is opened without following links.
   */
  groupWritable?: boolean;
}

export interface Untrusted {
  /** The directory (or link) on the way that is not safe. */
  path: string;
  reason: string;
}

function euid(): number {
  return process.geteuid?.() ?? 0;
}

function ownerProblem(info: Stats): string | undefined {
  return info.uid === 0 || info.uid === euid() ? undefined : `owned by uid ${info.uid}, not root`;
}

/** Why one entry on the way may not be trusted; `self` is the path itself, not an ancestor. */
export function entryProblem(info: Stats, self: boolean, options: TrustOptions = {}): string | undefined {
  if (info.isSymbolicLink()) {
    const owner = ownerProblem(info);
    return owner ? `a symbolic link ${owner}` : undefined;
  }
  if (!info.isDirectory()) return "not a directory";
  const owner = ownerProblem(info);
  if (owner) return owner;
  const mode = info.mode & 0o7777;
  const sticky = (mode & 0o1000) !== 0;
  const forbidden = self ? (options.groupWritable ? 0o002 : 0o022) : sticky ? 0 : 0o022;
  const bad = mode & forbidden;
  if (bad === 0) return undefined;
  const who = bad & 0o002 ? (bad & 0o020 ? "group and others" : "others") : "group";
  return `writable by ${who} (mode ${mode.toString(8)})`;
}

/** Every entry from `path` up to /, skipping the ones that do not exist yet. */
function walk(path: string, options: TrustOptions): { problem?: Untrusted; sawLink: boolean; deepest?: string } {
  let sawLink = false;
  let deepest: string | undefined;
  let current = resolve(path);
  let self = true;
  for (;;) {
    let info: Stats | undefined;
    try {
      info = lstatSync(current, { throwIfNoEntry: false });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== "ENOENT" && code !== "ENOTDIR")
        return { problem: { path: current, reason: `cannot be read (${code})` }, sawLink };
    }
    if (info) {
      deepest ??= current;
      if (info.isSymbolicLink()) sawLink = true;
      const reason = entryProblem(info, self, options);
      if (reason) return { problem: { path: current, reason }, sawLink };
    }
    // A missing path is made inside its deepest existing ancestor, and checked again then.
    self = false;
    const parent = dirname(current);
    if (parent === current) return { sawLink, deepest };
    current = parent;
  }
}

/**
 * What makes `path` (a directory root keeps state in, which may not exist yet) unsafe, or
 * undefined when only root can change anything on the way to it.
 */
export function untrustedPath(path: string, options: TrustOptions = {}): Untrusted | undefined {
  const given = walk(path, options);
  if (given.problem || !given.sawLink || !given.deepest) return given.problem;
  // A link on the way: the directories it leads to must pass the same rule.
  let real: string;
  try {
    real = realpathSync.native(given.deepest);
  } catch (e) {
    return { path: given.deepest, reason: `cannot be resolved (${(e as NodeJS.ErrnoException).code})` };
  }
  return walk(real, options).problem;
}

/** The fix to quote with an untrusted directory. */
export function trustFix(problem: Untrusted): string {
  return (
    `make ${problem.path} a directory owned by root and not writable by group or others ` +
    `(chown root:root ${problem.path}; chmod go-w ${problem.path}), the same for every directory above it`
  );
}
