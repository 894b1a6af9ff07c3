// The lab's command line (lab/args.ts, lab/main.ts): flags npm kept for itself, misspelt
// flags, bad paths and options are all refused before anything is built; `--help` and
// `down` never run setup or the build. The process tests put stub `npm` and `bash` first
// on PATH, so any attempt to run setup or the build is recorded.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { didYouMean, npmSwallowed, outputFileProblem, parseArgs } from "../lab/args";

const ROOT = join(__dirname, "..");
/** What npm puts in every script's environment (npm 11), none of it the lab's. */
const NPM_ENV = {
  npm_lifecycle_event: "lab",
  npm_config_cache: "/root/.npm",
  npm_config_prefix: "/usr",
  npm_config_global_prefix: "/usr",
  npm_config_local_prefix: ROOT,
  npm_config_user_agent: "npm/11.19.1 node/v20.20.2 linux x64 workspaces/false",
  npm_config_audit: "",
  npm_config_fund: "",
  npm_config_yes: "",
  npm_config_update_notifier: "",
  npm_config_node_gyp: "/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js",
};

describe("lab command line", () => {
  it("parses flags, inline values and commands", () => {
    const cli = parseArgs(["--workers=3", "--keep", "--wide", "--iperf-seconds", "0"]);
    assert.deepEqual(cli.options, { prefix: "pnlab", workers: 3, keep: true, iperfSeconds: 0 });
    assert.equal(cli.wide, true);
    assert.equal(parseArgs(["down", "--prefix", "mine"]).command, "down");
    assert.equal(parseArgs(["--help"]).command, "help");
    assert.equal(parseArgs(["-h"]).command, "help");
  });

  it("misspelt flags and commands get a did-you-mean and the pointer to --help", () => {
    assert.throws(
      () => parseArgs(["--wrokers", "3"]),
      /unknown argument --wrokers: did you mean --workers\? \(npm run lab -- --help lists the options\)/,
    );
    assert.throws(() => parseArgs(["--kep"]), /did you mean --keep\?/);
    assert.throws(() => parseArgs(["dwon"]), /did you mean down\?/);
    assert.throws(() => parseArgs(["-keep"]), /did you mean --keep\?/);
    assert.throws(
      () => parseArgs(["--zzzzzz"]),
      (e: Error) => !/did you mean/.test(e.message) && /unknown argument --zzzzzz/.test(e.message),
    );
    assert.equal(didYouMean("--iperf-second"), "--iperf-seconds");
    assert.equal(didYouMean("--jsno"), "--json");
    assert.throws(() => parseArgs(["--workers"]), /--workers needs a value: --workers N/);
    assert.throws(() => parseArgs(["--keep=yes"]), /--keep takes no value/);
    assert.throws(() => parseArgs(["--workers", "two"]), /--workers two: not a number/);
  });

  it("--json is checked before anything: a missing directory, a directory, an unwritable place", () => {
    const dir = mkdtempSync(join(tmpdir(), "podnet-cli-"));
    try {
      assert.throws(
        () => parseArgs(["--json", join(dir, "no", "such", "r.json")]),
        /--json .*: directory .*no\/such does not exist: create it first/,
      );
      assert.throws(() => parseArgs(["--json", dir]), /is a directory: name a file in it/);
      assert.equal(outputFileProblem(join(dir, "ok.json")), undefined);
      // a relative path starts where npm was run (INIT_CWD), not in the checkout
      assert.equal(parseArgs(["--json", "r.json"], dir).json, join(dir, "r.json"));
      if (process.getuid?.() !== 0) {
        chmodSync(dir, 0o500);
        assert.match(outputFileProblem(join(dir, "r.json")) ?? "", /is not writable/);
      }
    } finally {
      chmodSync(dir, 0o700);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("flags npm kept for itself (npm_config_*) stop the run with the command that was meant", () => {
    assert.equal(npmSwallowed(NPM_ENV, []), undefined, "npm's own settings are not the lab's flags");
    assert.equal(npmSwallowed({ npm_config_keep: "true" }, []), undefined, "not run by npm: nothing to say");
    assert.match(
      npmSwallowed({ ...NPM_ENV, npm_config_keep: "true" }, []) ?? "",
      /npm took --keep for itself[^\n]*\n {2}run: npm run lab -- --keep\n.*--help/,
    );
    // `npm run lab --worker 3 down`: a typo, and the value left loose in argv
    const typo = npmSwallowed({ ...NPM_ENV, npm_config_worker: "true" }, ["3", "down"]) ?? "";
    assert.match(typo, /unknown: --worker \(did you mean --workers\?\)/);
    assert.match(typo, /run: npm run lab -- down --workers 3$/m);
    // `--workers=3` keeps its value; `--iperf-seconds 1` left "1" loose
    const both = npmSwallowed({ ...NPM_ENV, npm_config_workers: "3", npm_config_iperf_seconds: "true" }, ["1"]) ?? "";
    assert.match(both, /--workers 3/);
    assert.match(both, /--iperf-seconds 1/);
    assert.match(
      npmSwallowed({ ...NPM_ENV, npm_config_json: "true", npm_config_wide: "true" }, ["r.json"]) ?? "",
      /run: npm run lab -- (--json r\.json --wide|--wide --json r\.json)$/m,
    );
  });
});

describe("lab command line, as a process (stub npm and bash on PATH)", function () {
  this.timeout(30_000);
  let stub = "";
  let log = "";

  before(() => {
    stub = mkdtempSync(join(tmpdir(), "podnet-cli-stub-"));
    log = join(stub, "calls.log");
    for (const name of ["npm", "bash"]) {
      // exits with $STUB_<NAME>_EXIT (default 0)
      writeFileSync(
        join(stub, name),
        `#!/bin/sh\necho "${name} $*" >>"${log}"\nexit \${STUB_${name.toUpperCase()}_EXIT:-0}\n`,
      );
      chmodSync(join(stub, name), 0o755);
    }
  });
  after(() => rmSync(stub, { recursive: true, force: true }));

  function lab(
    args: string[],
    env: Record<string, string> = {},
  ): { status: number | null; out: string; calls: string[] } {
    rmSync(log, { force: true });
    const ran = spawnSync(process.execPath, ["--import", "tsx", "lab/main.ts", ...args], {
      cwd: ROOT,
      encoding: "utf8",
      env: { PATH: `${stub}:${process.env.PATH}`, HOME: process.env.HOME, ...env },
    });
    return {
      status: ran.status,
      out: `${ran.stdout}${ran.stderr}`,
      calls: existsSync(log) ? readFileSync(log, "utf8").trim().split("\n") : [],
    };
  }

  it("--help prints the usage, mentions the npm --, and runs neither setup nor the build", () => {
    const r = lab(["--help"]);
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /^usage: npm run lab -- \[up\]/);
    assert.match(r.out, /npm passes options to the lab only after "--"/);
    assert.deepEqual(r.calls, []);
  });

  it("npm run lab --keep stops at once with exit 2, before setup and the build", () => {
    const r = lab([], { ...NPM_ENV, npm_config_keep: "true" });
    assert.equal(r.status, 2, r.out);
    assert.match(r.out, /run: npm run lab -- --keep/);
    assert.deepEqual(r.calls, []);
  });

  it("--json to a directory that does not exist stops with exit 2, before setup and the build", () => {
    const r = lab(["--json", "/nonexistent-podnet/report.json"]);
    assert.equal(r.status, 2, r.out);
    assert.match(r.out, /--json \/nonexistent-podnet\/report\.json: directory \/nonexistent-podnet does not exist/);
    assert.doesNotMatch(r.out, /\n\s+at /, "no stack trace");
    assert.deepEqual(r.calls, []);
  });

  it("a bad option stops with exit 2 and the fix, before setup and the build", () => {
    const r = lab(["--workers", "1"]);
    assert.equal(r.status, 2);
    assert.match(r.out, /--workers 1: use 2 to 16/);
    assert.deepEqual(r.calls, []);
  });

  it("down runs neither setup nor the build @root", function () {
    if (process.getuid?.() !== 0)
      assert.fail("lab down needs root (it removes namespaces): run it as root (sudo npm test)");
    const prefix = `pncli${process.pid % 10000}`;
    const r = lab(["down", "--prefix", prefix]);
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, new RegExp(`lab down: nothing to remove for prefix ${prefix}`));
    assert.deepEqual(r.calls, []);
  });

  it("up runs setup for the lab's packages first, and stops when it fails @root", () => {
    if (process.getuid?.() !== 0) assert.fail("up needs root: run it as root (sudo npm test)");
    const r = lab(["--prefix", "pnclinone", "--iperf-seconds", "0"], { STUB_BASH_EXIT: "1" });
    assert.equal(r.status, 1, r.out);
    assert.deepEqual(r.calls, [`bash ${join(ROOT, "scripts", "setup.sh")} lab`]);
    assert.match(r.out, /lab: scripts\/setup\.sh lab failed/);
  });

  it("up then builds the plugin, and stops when the build fails @root", () => {
    if (process.getuid?.() !== 0) assert.fail("up needs root: run it as root (sudo npm test)");
    const r = lab(["--prefix", "pnclinone", "--iperf-seconds", "0"], { STUB_NPM_EXIT: "1" });
    assert.equal(r.status, 1, r.out);
    assert.deepEqual(r.calls, [`bash ${join(ROOT, "scripts", "setup.sh")} lab`, "npm run --silent build"]);
    assert.match(r.out, /lab: npm run build failed/);
    assert.equal(existsSync("/run/podnet-lab/pnclinone"), false, "nothing of the lab was made");
  });
});
