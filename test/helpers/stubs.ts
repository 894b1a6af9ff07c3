// Stand-ins for the tools a node image script calls (systemctl, apt-get, kubeadm, ...), so
// the script runs under bash here and shows what it does without touching this machine.
// Each stub is a small sh script in a directory put first on PATH; every call is logged.
import { type SpawnSyncReturns, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export class Stubs {
  /** Holds bin/ (the stubs), calls.log, and whatever files a test writes. */
  readonly dir = mkdtempSync(join(tmpdir(), "podnet-stubs-"));
  private readonly bin = join(this.dir, "bin");
  private readonly log = join(this.dir, "calls.log");

  constructor() {
    mkdirSync(this.bin);
  }

  /** A stub `name` that logs "name args" and then runs `body` (sh, with $STUBS set). */
  add(name: string, body = "exit 0"): this {
    const file = join(this.bin, name);
    writeFileSync(file, `#!/bin/sh\necho "${name} $*" >>"$STUBS/calls.log"\n${body}\n`);
    chmodSync(file, 0o755);
    return this;
  }

  /**
   * A stub that answers `busy` for its first `times` calls and `idle` after, counting in a
   * file named after it: a job or lock that goes away after a while.
   */
  addCountdown(name: string, times: number, busy: string, idle: string): this {
    writeFileSync(join(this.dir, `${name}.count`), String(times));
    return this.add(
      name,
      `n=$(cat "$STUBS/${name}.count")
if [ "$n" -gt 0 ]; then echo $((n - 1)) >"$STUBS/${name}.count"; ${busy}; else ${idle}; fi`,
    );
  }

  /** The logged calls, one "name args" string each, in order. */
  calls(): string[] {
    return existsSync(this.log) ? readFileSync(this.log, "utf8").split("\n").filter(Boolean) : [];
  }

  /** Runs bash `args` with the stubs first on PATH (and `input` on its stdin). */
  bash(args: string[], env: NodeJS.ProcessEnv = {}, input = ""): SpawnSyncReturns<string> {
    const r = spawnSync("bash", args, {
      encoding: "utf8",
      input,
      timeout: 30_000,
      env: { ...process.env, PATH: `${this.bin}:${process.env.PATH}`, STUBS: this.dir, ...env },
    });
    if (r.error) throw r.error;
    return r;
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export function output(r: SpawnSyncReturns<string>): string {
  return `exit ${r.status}\n${r.stdout}${r.stderr}`;
}
