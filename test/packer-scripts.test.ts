// The node image's provisioning scripts run under bash with stand-ins for the node's tools
// (test/helpers/stubs.ts): what they call, in which order, and the files they write. The
// real tools here read what can be read: lslocks, apt-config, perl for needrestart's config,
// and Debian's containerd 1.6 (which cannot load the image's version 3 config, see below).
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parse as parseToml } from "smol-toml";
import { CNI_BIN_DIR, CNI_CONF_DIR } from "../cni/conflist";
import { output, Stubs } from "./helpers/stubs";

const repo = resolve(__dirname, "..");
const scriptsDir = join(repo, "packer", "scripts");
const script = (name: string) => join(scriptsDir, name);
const helper = join(repo, "packer", "lib", "apt.sh");
const aptGet =
  "apt-get -q -y -o DPkg::Lock::Timeout=600 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold";
const pauseImage = "registry.k8s.io/pause:3.10.1";

/** An Ubuntu instance whose apt is idle: no periodic job running, no lock held. */
function idleNode(): Stubs {
  return new Stubs()
    .add("systemctl", '[ "$1" = show ] && echo inactive; exit 0')
    .add("pgrep", "exit 1")
    .add("lslocks")
    .add("cloud-init")
    .add("apt-get")
    .add("apt-mark");
}

/** `systemctl show --property=ActiveState --value <unit>` says "activating" for <unit>.busy more calls. */
const countingSystemctl = `if [ "$1" = show ]; then
  f="$STUBS/$4.busy"; n=$(cat "$f" 2>/dev/null || echo 0)
  if [ "$n" -gt 0 ]; then echo $((n - 1)) >"$f"; echo activating; else echo inactive; fi
fi`;

describe("node image scripts (packer/scripts, packer/lib)", function () {
  const stubs: Stubs[] = [];
  const node = (s: Stubs = idleNode()) => {
    stubs.push(s);
    return s;
  };
  afterEach(() => {
    for (const s of stubs.splice(0)) s.cleanup();
  });

  describe("apt helper", function () {
    const aptGetUpdate = (s: Stubs, env: NodeJS.ProcessEnv = {}) =>
      s.bash(["-c", 'set -euo pipefail; . "$0"; apt_get update', helper], { APT_WAIT_INTERVAL: "0.01", ...env });

    it("holds off the periodic jobs, then waits for cloud-init, apt-daily, unattended-upgrade and the locks before apt-get", function () {
      const s = node()
        .add("systemctl", countingSystemctl)
        .addCountdown("pgrep", 1, "exit 0", "exit 1")
        .addCountdown("lslocks", 3, "echo /run/unrelated.lock; echo /var/lib/apt/lists/lock", ":");
      writeFileSync(join(s.dir, "apt-daily-upgrade.service.busy"), "2");
      const r = aptGetUpdate(s);
      assert.equal(r.status, 0, output(r));

      const calls = s.calls();
      const at = (call: string) => calls.indexOf(call);
      assert.ok(at("systemctl mask --quiet apt-daily.service apt-daily-upgrade.service") === 0, calls.join("\n"));
      assert.ok(at("systemctl stop apt-daily.timer apt-daily-upgrade.timer") === 1, "timers stopped after the mask");
      assert.ok(at("cloud-init status --wait") === 2, "cloud-init's own apt work first");
      assert.equal(calls.at(-1), `${aptGet} update`, "apt-get last");
      assert.equal(calls.filter((c) => c.startsWith("apt-get")).length, 1);
      assert.ok(!calls.some((c) => c.startsWith("systemctl is-active")), "is-active is false for a running oneshot");

      const waits = r.stdout.split("\n").filter((l) => l.startsWith("apt: waiting: "));
      assert.equal(waits.length, 3, r.stdout);
      assert.equal(
        waits[0],
        "apt: waiting: apt-daily-upgrade.service is activating, unattended-upgrade is running, /var/lib/apt/lists/lock is locked",
      );
      assert.equal(waits[2], "apt: waiting: /var/lib/apt/lists/lock is locked");
    });

    it("gives up after APT_WAIT_TIMEOUT naming what is still busy, without running apt-get", function () {
      const s = node().add("lslocks", "echo /var/lib/dpkg/lock-frontend");
      const r = aptGetUpdate(s, { APT_WAIT_TIMEOUT: "1", APT_WAIT_INTERVAL: "0.2" });
      assert.notEqual(r.status, 0);
      assert.match(
        r.stderr,
        /apt: still busy after 1s: \/var\/lib\/dpkg\/lock-frontend is locked; rerun the build or raise APT_WAIT_TIMEOUT/,
      );
      assert.ok(!s.calls().some((c) => c.startsWith("apt-get")), "apt-get ran while the lock was held");
    });

    it("sees a lock held on this machine through the real lslocks", async function () {
      const s = node();
      rmSync(join(s.dir, "bin", "lslocks"));
      const lock = join(s.dir, "lists.lock");
      writeFileSync(lock, "");
      const busy = () => s.bash(["-c", '. "$0"; apt_lock_files=("$1"); apt_busy', helper, lock]);
      // flock and its sleep in a process group of their own, ended together.
      const holder = spawn("flock", [lock, "sleep", "30"], { stdio: "ignore", detached: true });
      const exited = new Promise((r) => holder.once("exit", r));
      try {
        for (let i = 0; i < 100 && !busy().stdout.includes(lock); i++) await new Promise((r) => setTimeout(r, 50));
        assert.equal(busy().stdout, `${lock} is locked\n`);
      } finally {
        process.kill(-holder.pid!, "SIGTERM");
        await exited;
      }
      assert.equal(busy().stdout, "", "the lock is free once its holder is gone");
    });

    it("is the only apt_get: every script that uses apt sources it, none calls apt-get itself", function () {
      const pending = new Set<string>();
      const source = '. "${PODNET_APT_HELPER:?PODNET_APT_HELPER must name packer/lib/apt.sh as uploaded}"';
      let users = 0;
      for (const name of readdirSync(scriptsDir).filter((f) => !pending.has(f))) {
        const code = readFileSync(script(name), "utf8").replace(/^\s*#.*$/gm, "");
        assert.doesNotMatch(code, /apt_get\s*\(\)/, `${name} defines its own apt_get`);
        assert.doesNotMatch(code, /\bapt-get\b/, `${name} calls apt-get without the helper`);
        if (/\bapt_(get|wait_idle)\b/.test(code)) {
          users++;
          assert.ok(code.includes(source), `${name} uses apt_get without sourcing packer/lib/apt.sh`);
        }
      }
      assert.equal(users, 5, "01, 20, 30, 40 and 99 use apt");
    });

    it("01-base-packages.sh updates, upgrades and installs only once apt is free", function () {
      const s = node().addCountdown("lslocks", 1, "echo /var/lib/dpkg/lock", ":");
      for (const tool of [
        "curl",
        "gpg",
        "openssl",
        "ip",
        "nsenter",
        "iptables",
        "iptables-save",
        "iptables-restore",
        "conntrack",
        "socat",
        "ethtool",
      ])
        s.add(tool);
      const r = s.bash([script("01-base-packages.sh")], { PODNET_APT_HELPER: helper, APT_WAIT_INTERVAL: "0.01" });
      assert.equal(r.status, 0, output(r));
      const apt = s.calls().filter((c) => c.startsWith("apt-get "));
      assert.deepEqual(
        apt.map((c) => c.slice(aptGet.length + 1).split(" ")[0]),
        ["update", "full-upgrade", "install"],
      );
      assert.ok(s.calls().indexOf(`${aptGet} update`) > s.calls().indexOf("lslocks --noheadings --raw --output PATH"));
      assert.match(r.stdout, /apt: waiting: \/var\/lib\/dpkg\/lock is locked/);
    });
  });

  describe("30-containerd.sh", function () {
    /** Runs the script as on a node whose containerd package is `version`. */
    function install(version: string) {
      const s = node()
        .add(
          "dpkg-query",
          `case "$3" in containerd) printf %s "$CONTAINERD_VERSION";; runc) printf 1.3.3-0ubuntu1~24.04.3;; esac`,
        )
        .add(
          "kubeadm",
          `case "$1" in version) echo v1.35.2;; config) printf '%s\\n' registry.k8s.io/kube-apiserver:v1.35.2 ${pauseImage} registry.k8s.io/etcd:3.6.5-0;; esac`,
        )
        .add("containerd", '[ "$1" = --config ] && [ "$3 $4" = "config dump" ] && cat "$2"')
        .add("crictl");
      const config = join(s.dir, "etc", "containerd", "config.toml");
      const r = s.bash([script("30-containerd.sh")], {
        CONTAINERD_VERSION: version,
        CNI_BIN_DIR,
        CNI_CONF_DIR,
        CONTAINERD_CONFIG: config,
        CRICTL_CONFIG: join(s.dir, "crictl.yaml"),
        PODNET_APT_HELPER: helper,
      });
      return { s, r, config };
    }

    it("writes the version 3 config containerd 2.x's CRI plugin reads, with every key kubelet needs", function () {
      const { s, r, config } = install("2.2.1-0ubuntu1~24.04.1");
      assert.equal(r.status, 0, output(r));
      assert.ok(s.calls().includes(`${aptGet} install --no-install-recommends containerd runc`));
      assert.ok(s.calls().includes("apt-mark hold containerd runc"));
      assert.ok(s.calls().includes("systemctl restart containerd"));

      // Key paths as containerd v2.2's internal/cri/config (config.go, config_unix.go) and
      // plugins/cri name them: plugin ids io.containerd.cri.v1.images and .runtime.
      // Plain objects (smol-toml gives null-prototype ones) so deepEqual compares the data.
      const toml = JSON.parse(JSON.stringify(parseToml(readFileSync(config, "utf8")))) as Record<string, any>;
      assert.deepEqual(Object.keys(toml).sort(), ["plugins", "version"]);
      assert.equal(toml.version, 3);
      assert.deepEqual(Object.keys(toml.plugins).sort(), [
        "io.containerd.cri.v1.images",
        "io.containerd.cri.v1.runtime",
      ]);
      assert.deepEqual(toml.plugins["io.containerd.cri.v1.images"], { pinned_images: { sandbox: pauseImage } });
      const runtime = toml.plugins["io.containerd.cri.v1.runtime"];
      assert.equal(runtime.containerd.runtimes.runc.runtime_type, "io.containerd.runc.v2");
      assert.equal(
        runtime.containerd.runtimes.runc.options.SystemdCgroup,
        true,
        "kubelet's default cgroup driver is systemd",
      );
      // containerd 2.x refuses a config that sets both bin_dir (deprecated) and bin_dirs.
      assert.deepEqual(runtime.cni, { bin_dirs: [CNI_BIN_DIR], conf_dir: CNI_CONF_DIR });
    });

    it("refuses containerd 1.x, which would load that file and ignore every key in it", function () {
      const { r, config } = install("1.7.28-0ubuntu1~24.04.1");
      assert.notEqual(r.status, 0);
      assert.match(
        r.stderr,
        /Ubuntu's package is 1\.7\.28-0ubuntu1~24\.04\.1; this image writes a version 3 config, which needs containerd 2\.x/,
      );
      assert.ok(!existsSync(config));
    });

    it("shows why with Debian's containerd 1.6: it loads the version 3 file without an error and keeps its defaults", function () {
      // This machine has no containerd 2.x, so the file above is checked by parsing it; the
      // real containerd here only shows what a 1.x node would do with it.
      const { r, config } = install("2.2.1-0ubuntu1~24.04.1");
      assert.equal(r.status, 0, output(r));
      const dump = spawnSync("containerd", ["--config", config, "config", "dump"], { encoding: "utf8" });
      assert.equal(dump.status, 0, output(dump));
      assert.match(dump.stdout, /^version = 2$/m);
      assert.doesNotMatch(dump.stdout, new RegExp(pauseImage.replace(/[.]/g, "\\.")));
      assert.match(dump.stdout, /SystemdCgroup = false/);
    });
  });

  describe("65-unattended-upgrades.sh", function () {
    const cluster = ["containerd", "runc", "kubelet", "kubeadm", "kubectl", "cri-tools", "kubernetes-cni"];
    function configure(held: string[]) {
      const s = node().add("apt-mark", `printf '%s\\n' ${held.join(" ")}`);
      const apt = join(s.dir, "51podnet-unattended-upgrades");
      const needrestart = join(s.dir, "needrestart", "conf.d", "90-podnet.conf");
      // apt-config here reads the written file as its main config (APT_CONFIG).
      const env = { UNATTENDED_UPGRADES_CONF: apt, NEEDRESTART_CONF: needrestart, APT_CONFIG: apt };
      return { r: s.bash([script("65-unattended-upgrades.sh")], env), apt, needrestart };
    }

    it("keeps unattended upgrades on but off the held cluster packages, and needrestart off containerd and kubelet", function () {
      const { r, apt, needrestart } = configure(["openssh-server", ...cluster]);
      assert.equal(r.status, 0, output(r));
      const dump = spawnSync("apt-config", ["dump"], {
        encoding: "utf8",
        env: { ...process.env, APT_CONFIG: apt },
      }).stdout;
      assert.match(dump, /^APT::Periodic::Unattended-Upgrade "1";$/m);
      const blacklist = [...dump.matchAll(/^Unattended-Upgrade::Package-Blacklist:: "(.*)";$/gm)].map((m) => m[1]);
      assert.deepEqual(
        blacklist,
        cluster.map((p) => `^${p}$`),
      );

      // As needrestart evaluates conf.d files: on top of Ubuntu's own overrides, which stay.
      const perl = spawnSync(
        "perl",
        [
          "-e",
          `our %nrconf = (override_rc => { qr(^dbus) => 0 }); my $r = do $ARGV[0]; die $@ if $@; die $! unless defined $r;
for my $unit (@ARGV[1..$#ARGV]) { my $v = 1;
  for my $re (keys %{$nrconf{override_rc}}) { if ($unit =~ /$re/) { $v = $nrconf{override_rc}{$re}; last } }
  print "$unit=$v\\n" }`,
          needrestart,
          "containerd.service",
          "kubelet.service",
          "dbus.service",
          "ssh.service",
          "containerd-foo.service",
        ],
        { encoding: "utf8" },
      );
      assert.equal(perl.status, 0, output(perl));
      assert.equal(
        perl.stdout,
        "containerd.service=0\nkubelet.service=0\ndbus.service=0\nssh.service=1\ncontainerd-foo.service=1\n",
      );
    });

    it("refuses an image where a cluster package is not held", function () {
      const { r } = configure(cluster.filter((p) => p !== "runc"));
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, /unattended-upgrades: runc is not held/);
    });
  });

  describe("80-image-release.sh", function () {
    function record(bootIdBefore: string | undefined) {
      const s = node().add("kubeadm", "echo v1.35.2").add("dpkg-query", 'printf "%s-1" "$3"').add("bun", "echo 1.4.5");
      const marker = join(s.dir, "boot-id-before-reboot");
      if (bootIdBefore !== undefined) writeFileSync(marker, bootIdBefore);
      const release = join(s.dir, "etc", "podnet", "image-release");
      const r = s.bash([script("80-image-release.sh")], {
        IMAGE_NAME: "podnet-node-test",
        PODNET_PLUGIN_PATH: "/opt/cni/bin/podnet",
        PODNET_PLUGIN_SHA256: "ab".repeat(32),
        PODNET_BOOT_ID_BEFORE_REBOOT: marker,
        IMAGE_RELEASE_FILE: release,
        BUN_DIR: join(s.dir, "bin"),
      });
      return { r, release };
    }
    const thisBoot = () => readFileSync("/proc/sys/kernel/random/boot_id", "utf8");

    it("records the kernel of the boot after the reboot provisioner", function () {
      const { r, release } = record("00000000-0000-0000-0000-000000000000\n");
      assert.equal(r.status, 0, output(r));
      const text = readFileSync(release, "utf8");
      const kernel = spawnSync("uname", ["-r"], { encoding: "utf8" }).stdout.trim();
      assert.match(text, new RegExp(`^KERNEL=${kernel.replace(/[.+]/g, "\\$&")}$`, "m"));
      assert.match(text, /^CONTAINERD=containerd-1$/m);
      assert.match(text, /^KUBERNETES_VERSION=v1\.35\.2$/m);
      assert.match(text, /^BUN=1\.4\.5$/m, "the runtime's version, from BUN_DIR");
    });

    it("refuses to record from the boot before the reboot, or without one", function () {
      const same = record(thisBoot());
      assert.notEqual(same.r.status, 0);
      assert.match(same.r.stderr, /still in the boot before the reboot/);
      assert.ok(!existsSync(same.release));
      const none = record(undefined);
      assert.notEqual(none.r.status, 0);
      assert.match(none.r.stderr, /the reboot provisioner must run before this script/);
    });
  });

  it("packer/build.sh checks the installed Packer against required_version before init and build", function () {
    const required = /required_version = "(.+)"/.exec(
      readFileSync(join(repo, "packer", "plugins.pkr.hcl"), "utf8"),
    )![1]!;
    const build = (version: string) => {
      const s = node(new Stubs()).add(
        "packer",
        `[ "$1" = version ] && printf 'Packer v${version}\n\nYour version of Packer is out of date!\n'; exit 0`,
      );
      return { s, r: s.bash([join(repo, "packer", "build.sh"), "-var", "arch=arm64"]) };
    };
    for (const version of ["1.9.5", "2.0.0", "0.12.3"]) {
      const { s, r } = build(version);
      assert.notEqual(r.status, 0, `build.sh accepted packer ${version}`);
      assert.equal(
        r.stderr,
        `image: packer ${version} does not meet required_version "${required}" of plugins.pkr.hcl: install a Packer release that does (https://developer.hashicorp.com/packer/install)\n`,
      );
      assert.deepEqual(s.calls(), ["packer version"]);
    }
    for (const version of ["1.10.0", "1.13.4", "1.16.0"]) {
      const { s, r } = build(version);
      assert.equal(r.status, 0, output(r));
      const dir = join(repo, "packer");
      assert.deepEqual(s.calls(), [
        "packer version",
        `packer init ${dir}`,
        `packer build -var plugin_bundle=${join(repo, "dist", "podnet")} -var arch=arm64 ${dir}`,
      ]);
    }
  });

  it("99-cleanup.sh leaves apt idle and dpkg clean before it releases the periodic jobs, and drops the build's journal", function () {
    // The script wipes this machine's identity, so it is read, not run.
    const code = readFileSync(script("99-cleanup.sh"), "utf8").replace(/^\s*#.*$/gm, "");
    const order = [
      "apt_get autoremove --purge",
      "apt_get clean",
      "apt_wait_idle",
      "unfinished=$(dpkg --audit)",
      "apt_release_periodic",
      "machine_id=$(cat /etc/machine-id)",
      "cloud-init clean --logs --machine-id",
      "journalctl --relinquish-var",
      'rm -rf -- "/var/log/journal/${machine_id}"',
    ];
    const positions = order.map((line) => code.indexOf(line));
    for (const [i, p] of positions.entries()) assert.ok(p >= 0, `99-cleanup.sh lacks ${order[i]}`);
    assert.deepEqual(
      [...positions].sort((a, b) => a - b),
      positions,
      "in this order",
    );
  });
});
