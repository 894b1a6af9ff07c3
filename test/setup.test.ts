// scripts/setup.sh with stub dpkg-query, apt-get, id and npm first on PATH (test/helpers/stubs.ts): which
// packages each command gets, what it says, and what it refuses to do. Nothing is
// installed; no root needed.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Stubs } from "./helpers/stubs";

const ROOT = join(__dirname, "..");
const LAB = ["iproute2", "iptables", "iputils-ping", "util-linux", "iperf3", "containernetworking-plugins"];
const RUNTIMES = ["podman", "runc", "containerd", "busybox-static"];

/** Bodies of the stubs (sh; $STUBS is their directory, which also holds the files below). */
const STUB_BODIES: Record<string, string> = {
  // dpkg-query -W -f='${Status}' PKG: installed when PKG is a line of $STUBS/installed.
  "dpkg-query": `for pkg; do :; done; grep -qx -- "$pkg" "$STUBS/installed" || exit 1; printf 'install ok installed'`,
  // apt-get: a simulation (-s) prints a Remv line per line of $STUBS/removes.
  "apt-get": `case " $* " in *" -s "*) while read -r p; do echo "Remv $p [1.0]"; done <"$STUBS/removes";; esac; exit 0`,
  id: `if [ "$1" = -u ]; then cat "$STUBS/uid"; else exec /usr/bin/id "$@"; fi`,
  npm: "exit 0",
};

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
  /** apt-get's arguments, one string per call. */
  apt: string[];
}

function setup(
  profile: string | undefined,
  opts: { installed?: string[]; removes?: string[]; uid?: number; node?: string; env?: Record<string, string> } = {},
): Run {
  const stubs = new Stubs();
  try {
    for (const [name, body] of Object.entries({ ...STUB_BODIES, ...(opts.node ? { node: `echo ${opts.node}` } : {}) }))
      stubs.add(name, body);
    writeFileSync(join(stubs.dir, "installed"), (opts.installed ?? []).map((p) => `${p}\n`).join(""));
    writeFileSync(join(stubs.dir, "removes"), (opts.removes ?? []).map((p) => `${p}\n`).join(""));
    writeFileSync(join(stubs.dir, "uid"), `${opts.uid ?? 0}\n`);
    const ran = stubs.bash([join(ROOT, "scripts", "setup.sh"), ...(profile ? [profile] : [])], {
      PODNET_SETUP_ALLOW_REMOVALS: "",
      ...opts.env,
    });
    const apt = stubs
      .calls()
      .filter((c) => c.startsWith("apt-get "))
      .map((c) => c.slice("apt-get ".length));
    return { status: ran.status, stdout: ran.stdout, stderr: ran.stderr, apt };
  } finally {
    stubs.cleanup();
  }
}

const installs = (r: Run) => r.apt.filter((l) => /^install -y -qq /.test(l));

describe("scripts/setup.sh", () => {
  it("lab: installs only the lab's packages, and says which", () => {
    const r = setup("lab");
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(installs(r), [`install -y -qq ${LAB.join(" ")}`]);
    assert.match(r.stdout, new RegExp(`setup \\(lab\\): installing ${LAB.join(" ")}`));
    for (const pkg of [...RUNTIMES, "packer", "shellcheck", "strace"])
      assert.ok(!installs(r)[0].split(" ").includes(pkg), `lab must not install ${pkg}`);
  });

  it("lab: with everything present, touches apt not at all and prints nothing", () => {
    const r = setup("lab", { installed: LAB });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.apt, []);
    // (an "npm ci" line would only mean node_modules is older than the lock file here)
    assert.equal(r.stdout.replace(/^setup \(lab\): npm ci\n/m, ""), "");
  });

  it("test (the default): everything the suite drives, only what is missing", () => {
    const r = setup(undefined, { installed: ["iproute2", "iptables"] });
    assert.equal(r.status, 0, r.stderr);
    const line = installs(r)[0].split(" ");
    for (const pkg of [...RUNTIMES, "packer", "shellcheck", "strace", "iperf3", "containernetworking-plugins"])
      assert.ok(line.includes(pkg), `test installs ${pkg}`);
    assert.ok(!line.includes("iproute2"), "present packages are skipped");
  });

  it("bench: the reference plugins and strace, no runtimes", () => {
    const r = setup("bench");
    assert.equal(r.status, 0, r.stderr);
    const line = installs(r)[0].split(" ");
    assert.ok(line.includes("containernetworking-plugins") && line.includes("strace"));
    for (const pkg of RUNTIMES) assert.ok(!line.includes(pkg));
  });

  it("image: installs nothing from Debian and points at HashiCorp's Packer when it is missing or too old", () => {
    const r = setup("image");
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.apt, []);
    if (!/Packer v1\.(1\d|[2-9]\d)\./.test(spawnSync("packer", ["version"], { encoding: "utf8" }).stdout ?? "")) {
      assert.match(r.stdout, /Packer 1\.10\.0 or later from HashiCorp/);
    }
  });

  it("refuses to replace Docker's containerd.io, without calling apt at all", () => {
    const r = setup("test", { installed: ["containerd.io"] });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /containerd\.io is installed \(Docker's container runtime\)/);
    assert.match(r.stderr, /setup will not/);
    assert.match(r.stderr, /The lab needs neither: npm run lab/);
    assert.deepEqual(r.apt, []);
  });

  it("the lab runs beside Docker's containerd.io: it needs neither containerd nor runc", () => {
    const r = setup("lab", { installed: ["containerd.io"] });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(installs(r), [`install -y -qq ${LAB.join(" ")}`]);
  });

  it("refuses when apt would remove any package, naming it, and installs nothing", () => {
    const r = setup("lab", { removes: ["docker-ce", "my-runc"] });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /would remove docker-ce my-runc; setup will not remove packages/);
    assert.deepEqual(installs(r), []);
    assert.ok(
      r.apt.some((l) => /^install -s -y /.test(l)),
      "it asked apt for a simulation first",
    );
  });

  it("PODNET_SETUP_ALLOW_REMOVALS=1 (a throwaway CI runner) lets apt replace them", () => {
    const r = setup("test", {
      installed: ["containerd.io"],
      removes: ["containerd.io"],
      env: { PODNET_SETUP_ALLOW_REMOVALS: "1" },
    });
    assert.equal(r.status, 0, r.stderr);
    assert.ok(installs(r)[0].split(" ").includes("containerd"));
  });

  it("not root: names the missing packages and how to install them, calls no apt", () => {
    const r = setup("lab", { uid: 1000, installed: LAB.filter((p) => p !== "iperf3") });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /missing iperf3; run as root .*sudo npm run .*apt-get install iperf3/);
    assert.deepEqual(r.apt, []);
  });

  it("Node.js older than 20 stops at once with how to get 20", () => {
    const r = setup("lab", { node: "18.20.4" });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /Node\.js 18\.20\.4 is too old: podnet needs 20 or later \(Debian 12 ships 18\)/);
    assert.match(r.stderr, /deb\.nodesource\.com\/setup_20\.x/);
    assert.deepEqual(r.apt, []);
  });

  it("an unknown profile is refused with the list", () => {
    const r = setup("labb");
    assert.equal(r.status, 1);
    assert.match(r.stderr, /unknown profile 'labb': use one of npm, lab, bench, image, test/);
  });
});
