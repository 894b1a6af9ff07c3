// The pinned Bun the plugin runs on, from this repository's node_modules (package.json
// optionalDependencies: npm installs the one package that fits this machine's CPU). On a
// node the image installs the same version in /opt/podnet/bin, which dist/podnet's shebang
// searches first; the lab, the tests and the bench put this directory on PATH instead.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

const REPO = join(__dirname, "..");

/** The npm package with the Bun build for this CPU: -baseline where there is no AVX2. */
export function bunPackage(arch: string = process.arch, cpuinfo: string = readCpuinfo()): string {
  if (arch === "arm64") return "@oven/bun-linux-aarch64";
  if (arch !== "x64") throw new Error(`podnet runs on x86_64 and arm64 Linux, not ${arch}`);
  return /^flags\s*:.*\bavx2\b/m.test(cpuinfo) ? "@oven/bun-linux-x64" : "@oven/bun-linux-x64-baseline";
}

function readCpuinfo(): string {
  try {
    return readFileSync("/proc/cpuinfo", "utf8");
  } catch {
    return "";
  }
}

/** The directory holding the pinned `bun`; throws with the fix when npm has not installed it. */
export function bunBinDir(): string {
  const pkg = bunPackage();
  const dir = join(REPO, "node_modules", pkg, "bin");
  if (!existsSync(join(dir, "bun"))) throw new Error(`${pkg} is not installed (${dir}/bun is missing): run \`npm ci\``);
  return dir;
}

/** A PATH with the pinned Bun first, for anything that execs the plugin. */
export function pathWithBun(path: string | undefined): string {
  return [bunBinDir(), ...(path ?? "").split(":").filter(Boolean)].join(":");
}

/** The Bun version package.json pins (the same for every platform package). */
export function pinnedBunVersion(): string {
  const pkg = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as {
    optionalDependencies?: Record<string, string>;
  };
  const version = pkg.optionalDependencies?.[bunPackage()];
  if (!version) throw new Error(`package.json pins no ${bunPackage()} in optionalDependencies`);
  return version;
}
