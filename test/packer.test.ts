// The node image (packer/): formatting and validation with Debian's packer 1.6.6, the
// provisioning scripts under shellcheck, and agreement with the rest of the project: the
// AMI name and tags the Pulumi stack looks images up by (components/image.ts), the bundle
// `npm run build` writes, and the CNI paths of the conflist (cni/conflist.ts).
import assert from "node:assert/strict";
import { type SpawnSyncReturns, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import { CNI_BIN_DIR, CNI_CONF_DIR, PLUGIN_PATH } from "../cni/conflist";
import { NODE_RUNTIME_DIR } from "../cni/runtime";
import {
  AMI_TAG_ARCH,
  AMI_TAG_KUBERNETES_VERSION,
  AMI_TAG_PLUGIN_SHA256,
  amiNameFilter,
  DEFAULT_IMAGE_ARCH,
  DEFAULT_KUBERNETES_MINOR,
  type ImageArch,
} from "../components/image";
import { bunBinDir, bunPackage, pinnedBunVersion } from "../lab/bun";
import { AGNHOST_IMAGE } from "../verify/manifests";

const repo = resolve(__dirname, "..");
const packerDir = join(repo, "packer");
const scriptsDir = join(packerDir, "scripts");
const pluginsFile = "plugins.pkr.hcl";
const bundle = join(repo, "dist", "podnet");

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): SpawnSyncReturns<string> {
  const r = spawnSync(cmd, args, { encoding: "utf8", env, cwd: repo, timeout: 60_000 });
  if ((r.error as NodeJS.ErrnoException | undefined)?.code === "ENOENT") {
    throw new Error(`${cmd} is not installed: run \`bash scripts/setup.sh\` (as root) first`);
  }
  if (r.error) throw r.error;
  return r;
}

function output(r: SpawnSyncReturns<string>): string {
  return `exit ${r.status}\n${r.stdout}${r.stderr}`;
}

const sha256 = (file: string): string => createHash("sha256").update(readFileSync(file)).digest("hex");

/** `packer inspect` prints each value as `local.name: "<quoted string>"`. */
function inspectValues(text: string): Map<string, string> {
  const values = new Map<string, string>();
  for (const m of text.matchAll(/^((?:var|local)\.[a-z0-9_]+): (".*")$/gm)) {
    values.set(m[1]!, JSON.parse(m[2]!) as string);
  }
  return values;
}

/** An HCL object as inspect renders it: `{\n  "key" = "value"\n}`. */
function hclMap(text: string): Record<string, string> {
  const map: Record<string, string> = {};
  for (const m of text.matchAll(/^\s*("(?:[^"\\]|\\.)*")\s*=\s*("(?:[^"\\]|\\.)*")\s*$/gm)) {
    map[JSON.parse(m[1]!) as string] = JSON.parse(m[2]!) as string;
  }
  return map;
}

/**
 * What node.pkr.hcl sets that Debian's packer 1.6.6 cannot validate: its built-in amazon-ebs
 * predates these fields and rejects them ("not expected here"). The template is written for
 * packer-plugin-amazon 1.3.9 (plugins.pkr.hcl), whose builder/common/run_config.go defines
 * metadata_options { http_endpoint, http_tokens, http_put_response_hop_limit } and
 * temporary_security_group_source_public_ip, and ami_config.go imds_support ("v2.0" is its
 * only non-empty value). The suite validates the template without them and checks their
 * text here; a test below shows 1.6.6 rejects each one, so nothing else escapes validation.
 */
const NEWER_THAN_1_6_6: Array<{ name: string; hcl: RegExp }> = [
  {
    name: "temporary_security_group_source_public_ip",
    hcl: /^ {2}temporary_security_group_source_public_ip = true\n/gm,
  },
  {
    name: "metadata_options",
    hcl: /^ {2}metadata_options \{\n {4}http_endpoint {15}= "enabled"\n {4}http_tokens {17}= "required"\n {4}http_put_response_hop_limit = 1\n {2}\}\n/gm,
  },
  { name: "imds_support", hcl: /^ {2}imds_support = "v2\.0"\n/gm },
];

function globRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*");
  return new RegExp(`^${body}$`);
}

describe("node image (packer/)", function () {
  let work: string;
  let copy: string; // packer/ without plugins.pkr.hcl, beside a dist/ that is the repo's
  let packerEnv: NodeJS.ProcessEnv;
  let builtPath: string;
  const packer = (args: string[], extraEnv: NodeJS.ProcessEnv = {}) =>
    run("packer", args, { ...packerEnv, ...extraEnv });
  const inspect = (extraEnv: NodeJS.ProcessEnv = {}): Map<string, string> => {
    const r = packer(["inspect", copy], extraEnv);
    assert.equal(r.status, 0, output(r));
    return inspectValues(r.stdout);
  };
  const local = (values: Map<string, string>, name: string): string => {
    const v = values.get(`local.${name}`);
    assert.ok(v !== undefined, `packer inspect shows no local.${name} (it drops locals that fail to evaluate)`);
    return v;
  };

  before(function () {
    // The bundle the image uploads is whatever `npm run build` writes; build it and take
    // the path from its own report rather than from a copy of cni/build.mjs's logic.
    const build = run("npm", ["run", "--silent", "build"]);
    assert.equal(build.status, 0, `npm run build failed:\n${output(build)}`);
    const built = /^built (.+)$/m.exec(build.stdout);
    assert.ok(built, `npm run build did not say what it built:\n${build.stdout}`);
    builtPath = built[1]!.trim();

    const version = run("packer", ["version"], { ...process.env, CHECKPOINT_DISABLE: "1" });
    assert.equal(version.status, 0, output(version));

    work = mkdtempSync(join(tmpdir(), "podnet-packer-"));
    const home = join(work, "home");
    mkdirSync(home);
    packerEnv = { ...process.env, CHECKPOINT_DISABLE: "1", HOME: home, PACKER_CONFIG_DIR: home };
    for (const key of Object.keys(packerEnv)) if (key.startsWith("PKR_VAR_")) delete packerEnv[key];

    // packer 1.6.6 rejects required_plugins, so validate everything else. The copy keeps
    // the layout (path.root/../dist/podnet) with dist/ linked to the repository's.
    copy = join(work, "packer");
    cpSync(packerDir, copy, {
      recursive: true,
      filter: (src) => ![pluginsFile, "manifest.json"].includes(basename(src)) || src === packerDir,
    });
    symlinkSync(join(repo, "dist"), join(work, "dist"));
    // ... and without the fields 1.6.6's built-in amazon-ebs does not know (see below).
    let text = readFileSync(join(packerDir, "node.pkr.hcl"), "utf8");
    for (const field of NEWER_THAN_1_6_6) {
      assert.equal(text.match(field.hcl)?.length, 1, `node.pkr.hcl sets ${field.name} once`);
      text = text.replace(field.hcl, "");
    }
    writeFileSync(join(copy, "node.pkr.hcl"), text);
  });

  after(function () {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("keeps the required_plugins block alone in plugins.pkr.hcl", function () {
    const hclFiles = readdirSync(packerDir).filter((f) => f.endsWith(".pkr.hcl"));
    assert.ok(hclFiles.includes(pluginsFile), `packer/${pluginsFile} is missing`);
    const plugins = readFileSync(join(packerDir, pluginsFile), "utf8")
      .replace(/^\s*#.*$/gm, "")
      .trim();
    assert.match(plugins, /^packer \{[\s\S]*\}$/, "plugins.pkr.hcl holds only the packer block");
    // Exact: the plugin the template's fields are checked against, on the Packers it supports.
    assert.match(plugins, /required_version = ">= 1\.10\.0, < 2\.0\.0"/);
    assert.match(plugins, /amazon = \{\s*version = "= 1\.3\.9"\s*source\s*= "github\.com\/hashicorp\/amazon"/);
    for (const f of hclFiles.filter((f) => f !== pluginsFile)) {
      const text = readFileSync(join(packerDir, f), "utf8");
      assert.doesNotMatch(text, /required_plugins|^packer\s*\{/m, `${f} must not hold packer/required_plugins`);
    }
    assert.ok(!existsSync(join(copy, pluginsFile)));
  });

  it("is formatted as packer fmt writes it, and fmt -check catches a stray space", function () {
    const r = packer(["fmt", "-check", "-diff", packerDir]);
    assert.equal(r.status, 0, `run \`packer fmt packer/\`:\n${output(r)}`);

    const bad = join(work, "misformatted");
    mkdirSync(bad);
    const vars = readFileSync(join(packerDir, "variables.pkr.hcl"), "utf8");
    writeFileSync(join(bad, "variables.pkr.hcl"), vars.replace(/^(\s*)type(\s*)=/m, "$1type $2="));
    assert.notEqual(packer(["fmt", "-check", bad]).status, 0, "fmt -check passed a misformatted file");
  });

  it("validates with packer 1.6.6 offline, for both architectures, and refuses bad variables", function () {
    for (const args of [
      [],
      ["-var", "arch=arm64"],
      ["-var", "kubernetes_minor=1.36", "-var", "region=eu-west-1", "-var", 'ssh_source_cidrs=["203.0.113.0/24"]'],
    ]) {
      const r = packer(["validate", ...args, copy]);
      assert.equal(r.status, 0, `packer validate ${args.join(" ")}:\n${output(r)}`);
    }
    // The whole template, the fields 1.6.6 does not know included, is still valid HCL.
    const full = join(work, "full");
    cpSync(copy, full, { recursive: true });
    cpSync(join(packerDir, "node.pkr.hcl"), join(full, "node.pkr.hcl"));
    const syntax = packer(["validate", "-syntax-only", full]);
    assert.equal(syntax.status, 0, output(syntax));
    const cases: Array<[string, RegExp]> = [
      ["arch=amd64", /x86_64 or arm64/],
      ["kubernetes_minor=1.35.2", /minor version such as 1\.35/],
      ["kubernetes_minor=v1.35", /minor version such as 1\.35/],
      ["plugin_bundle=/nonexistent/podnet", /plugin_sha256|no such file|nonexistent/i],
    ];
    for (const [assignment, message] of cases) {
      const r = packer(["validate", "-var", assignment, copy]);
      assert.notEqual(r.status, 0, `packer validate accepted -var ${assignment}`);
      assert.match(output(r), message);
    }
  });

  it("requires IMDSv2 on the build instance and the AMI, and SSH from the builder's IP only", function () {
    // The values are those NEWER_THAN_1_6_6 matches, in the source block; each one is a field
    // 1.6.6 rejects, so stripping it hides nothing 1.6.6 could have validated.
    const template = readFileSync(join(packerDir, "node.pkr.hcl"), "utf8");
    const source = template.slice(template.indexOf('source "amazon-ebs" "node"'), template.indexOf("\nbuild {"));
    const stripped = readFileSync(join(copy, "node.pkr.hcl"), "utf8");
    // An explicit range, when the builder's address is not stable, replaces the public IP.
    assert.match(source, /^ {2}temporary_security_group_source_cidrs {5}= var\.ssh_source_cidrs$/m);
    for (const field of NEWER_THAN_1_6_6) {
      assert.equal(source.match(field.hcl)?.length, 1, `the source block sets ${field.name}`);
      const one = join(work, `with-${field.name}`);
      cpSync(copy, one, { recursive: true });
      const [line] = template.match(field.hcl)!;
      writeFileSync(join(one, "node.pkr.hcl"), stripped.replace(/^( {2}ssh_username {2}= "ubuntu"\n)/m, `$1${line}`));
      const r = packer(["validate", one]);
      assert.notEqual(r.status, 0, `packer 1.6.6 now validates ${field.name}: validate it instead of stripping it`);
      assert.match(output(r), new RegExp(`"${field.name}" (is|are) not expected\\s+here`));
      assert.equal(output(r).match(/^Error: /gm)?.length, 1, `only ${field.name} is refused:\n${output(r)}`);
    }
  });

  it("uploads exactly the file npm run build makes, tagged with its sha256", function () {
    assert.equal(resolve(repo, builtPath), bundle, "npm run build writes dist/podnet");
    assert.ok(existsSync(bundle), `${bundle} is missing: run npm run build`);
    const values = inspect();
    // Resolved through the copy's dist/ link: the template's default is the repository's dist/podnet.
    assert.equal(realpathSync(resolve(local(values, "plugin_bundle"))), realpathSync(builtPath));
    assert.equal(local(values, "plugin_sha256"), sha256(builtPath));
    const template = readFileSync(join(packerDir, "node.pkr.hcl"), "utf8");
    const upload = /provisioner "file" \{\s*source\s*= local\.plugin_bundle\s*destination = local\.plugin_upload\s*\}/;
    assert.match(template, upload, "the file provisioner uploads local.plugin_bundle");
  });

  it("names and tags the AMI the way the stack finds it (components/image.ts)", function () {
    const sha = sha256(bundle);
    for (const arch of ["x86_64", "arm64"] as ImageArch[]) {
      const values = inspect(arch === DEFAULT_IMAGE_ARCH ? {} : { PKR_VAR_arch: arch });
      if (arch === DEFAULT_IMAGE_ARCH) {
        assert.equal(values.get("var.arch"), DEFAULT_IMAGE_ARCH, "default arch");
        assert.equal(values.get("var.kubernetes_minor"), DEFAULT_KUBERNETES_MINOR, "default Kubernetes minor");
      }
      const name = local(values, "ami_name");
      assert.match(name, globRegExp(amiNameFilter(DEFAULT_KUBERNETES_MINOR, arch)));
      assert.equal(
        name,
        `podnet-node-k8s-${DEFAULT_KUBERNETES_MINOR}-${arch}-${local(values, "build_time")}-${sha.slice(0, 12)}`,
      );
      assert.match(local(values, "build_time"), /^\d{14}$/);
      assert.match(name, /^[A-Za-z0-9()[\] ./'@_-]{3,128}$/, "AWS AMI name rules");
      const tags = hclMap(local(values, "ami_tags"));
      assert.equal(tags[AMI_TAG_KUBERNETES_VERSION], DEFAULT_KUBERNETES_MINOR);
      assert.equal(tags[AMI_TAG_PLUGIN_SHA256], sha);
      assert.equal(tags[AMI_TAG_ARCH], arch);
      assert.equal(tags.Name, name);
      assert.equal(local(values, "ubuntu_arch"), arch === "x86_64" ? "amd64" : "arm64");
      assert.equal(local(values, "instance_type"), arch === "x86_64" ? "t3.medium" : "t4g.medium");
    }
    const template = readFileSync(join(packerDir, "node.pkr.hcl"), "utf8");
    assert.match(template, /^\s*ami_name\s*= local\.ami_name$/m);
    assert.match(template, /^\s*tags\s*= local\.ami_tags$/m);
    assert.match(template, /^\s*snapshot_tags\s*= local\.ami_tags$/m);
    assert.match(template, /owners\s*= \["099720109477"\]/, "Canonical's images");
    assert.match(template, /ubuntu\/images\/hvm-ssd-gp3\/ubuntu-noble-24\.04-\$\{local\.ubuntu_arch\}-server-\*/);
    assert.match(template, /most_recent = true/);
    assert.match(template, /post-processor "manifest"/);
  });

  it("installs the plugin and CNI configs where the conflist and the stack expect them", function () {
    const values = inspect();
    assert.equal(local(values, "cni_bin_dir"), CNI_BIN_DIR);
    assert.equal(local(values, "cni_conf_dir"), CNI_CONF_DIR);
    assert.equal(local(values, "plugin_path"), PLUGIN_PATH);
    const template = readFileSync(join(packerDir, "node.pkr.hcl"), "utf8");
    for (const env of [
      "CNI_BIN_DIR=${local.cni_bin_dir}",
      "CNI_CONF_DIR=${local.cni_conf_dir}",
      "PODNET_PLUGIN_PATH=${local.plugin_path}",
    ]) {
      assert.ok(template.includes(`"${env}"`), `the shell provisioner passes ${env}`);
    }
    // The scripts take these paths from the template, so they cannot drift on their own.
    for (const script of readdirSync(scriptsDir)) {
      const text = readFileSync(join(scriptsDir, script), "utf8");
      assert.doesNotMatch(text, /\/opt\/cni|\/etc\/cni/, `${script} hardcodes a CNI path`);
    }
  });

  it("runs every script, in order, each strict bash and clean under shellcheck", function () {
    const scripts = readdirSync(scriptsDir)
      .filter((f) => f.endsWith(".sh"))
      .sort();
    assert.deepEqual(readdirSync(scriptsDir).sort(), scripts, "packer/scripts holds only .sh files");
    const template = readFileSync(join(packerDir, "node.pkr.hcl"), "utf8");
    const listed = [...template.matchAll(/"\$\{path\.root\}\/scripts\/([^"]+)"/g)].map((m) => m[1]);
    assert.deepEqual(listed, scripts, "the shell provisioners run packer/scripts/*.sh in name order");
    assert.equal(scripts.at(-1), "99-cleanup.sh");

    // Uploads, the scripts up to 65, a reboot into what nodes boot, then 70 to 99, all with
    // the same inputs (local.script_env) and the apt helper uploaded where they look for it.
    const provisioners = [...template.matchAll(/^ {2}provisioner "(\w+)" \{\n([\s\S]*?)^ {2}\}$/gm)];
    assert.deepEqual(
      provisioners.map((m) => m[1]),
      ["file", "file", "shell", "shell", "shell"],
    );
    const [, helper, before, reboot, after] = provisioners.map((m) => m[2]!);
    assert.match(helper!, /source\s+= "\$\{path\.root\}\/lib\/apt\.sh"\n\s+destination = local\.apt_helper_upload/);
    assert.ok(template.includes('"PODNET_APT_HELPER=${local.apt_helper_upload}"'));
    assert.match(before!, /65-unattended-upgrades\.sh",\n\s+\]\n$/);
    assert.match(
      reboot!,
      /inline\s+= \["cat \/proc\/sys\/kernel\/random\/boot_id >\$\{local\.boot_id_before_reboot\}", "sudo systemctl reboot"\]/,
    );
    assert.match(reboot!, /expect_disconnect = true/);
    assert.ok(template.includes('"PODNET_BOOT_ID_BEFORE_REBOOT=${local.boot_id_before_reboot}"'));
    assert.match(after!, /pause_before\s+= "30s"/);
    assert.match(after!, /scripts = \[\s+"\$\{path\.root\}\/scripts\/70-/);
    for (const shell of [before!, after!]) {
      assert.match(
        shell,
        /execute_command\s+= local\.script_execute_command\n\s+environment_vars = local\.script_env\n/,
      );
    }
    // Both land where the boot in between does not empty them (/tmp is emptied at boot).
    const values = inspect();
    assert.match(local(values, "apt_helper_upload"), /^\/var\/tmp\//);
    assert.match(local(values, "boot_id_before_reboot"), /^\/var\/tmp\//);
    for (const script of scripts) {
      const text = readFileSync(join(scriptsDir, script), "utf8");
      assert.ok(text.startsWith("#!/usr/bin/env bash\n"), `${script}: bash shebang`);
      assert.match(text, /^set -euo pipefail$/m, `${script}: strict mode`);
      if (/apt[-_]get/.test(text.replace(/^\s*#.*$/gm, "")))
        assert.match(text, /^export DEBIAN_FRONTEND=noninteractive$/m, `${script}: no prompts`);
      assert.ok(statSync(join(scriptsDir, script)).mode & 0o100, `${script} is executable`);
    }
    const files = [
      ...scripts.map((s) => join(scriptsDir, s)),
      join(packerDir, "lib", "apt.sh"),
      join(packerDir, "build.sh"),
    ];
    // -x: follow the scripts' `source` of lib/apt.sh, so its functions are checked in use.
    const r = run("shellcheck", ["-x", "--shell=bash", "--severity=style", ...files]);
    assert.equal(r.status, 0, output(r));
  });

  it("does what the issue asks of each step", function () {
    const script = (name: string) => readFileSync(join(scriptsDir, name), "utf8");
    const expectations: Array<[string, RegExp[]]> = [
      ["10-kernel-modules.sh", [/modules=\(overlay br_netfilter\)/, /\/etc\/modules-load\.d\//]],
      [
        "11-sysctl.sh",
        [/\[net\.ipv4\.ip_forward\]=1/, /\[net\.bridge\.bridge-nf-call-iptables\]=1/, /\/etc\/sysctl\.d\//],
      ],
      ["12-swap-off.sh", [/swapoff -a/, /\/etc\/fstab/]],
      [
        "20-kubernetes.sh",
        [/pkgs\.k8s\.io\/core:\/stable:\/v\$\{KUBERNETES_MINOR\}\/deb\//, /apt-mark hold kubelet kubeadm kubectl/],
      ],
      [
        "30-containerd.sh",
        [/install --no-install-recommends containerd runc/, /^version = 3$/m, /kubeadm config images list/],
      ],
      ["40-cni-plugins.sh", [/kubernetes-cni/, /for plugin in loopback portmap/]],
      ["50-bun.sh", [/curl -fsSL/, /sha512sum/, /grep -qw avx2 \/proc\/cpuinfo/, /--version/]],
      [
        "65-unattended-upgrades.sh",
        [/cluster_packages=\(containerd runc kubelet kubeadm kubectl cri-tools kubernetes-cni\)/],
      ],
      ["70-prepull-images.sh", [/kubeadm config images pull/]],
      ["99-cleanup.sh", [/apt_get clean/, /cloud-init clean --logs --machine-id/, /rm -rf \/var\/lib\/cni/]],
    ];
    for (const [name, patterns] of expectations) {
      for (const p of patterns) assert.match(script(name), p, name);
    }
  });

  it("60-podnet.sh installs the bundle that matches the tag and refuses any other", function () {
    const node = join(work, "node");
    const upload = join(node, "tmp", "podnet-bundle");
    const target = join(node, "opt", "cni", "bin", "podnet");
    const install = (sha: string) => {
      mkdirSync(join(node, "tmp"), { recursive: true });
      cpSync(bundle, upload);
      // As on a node: the pinned Bun in /opt/podnet/bin (a private mount of this repository's).
      const onNode = `mount -t tmpfs tmpfs /opt && mkdir -p ${NODE_RUNTIME_DIR} && mount --bind ${bunBinDir()} ${NODE_RUNTIME_DIR} && exec bash "$0"`;
      return run("unshare", ["-m", "sh", "-c", onNode, join(scriptsDir, "60-podnet.sh")], {
        ...process.env,
        PODNET_PLUGIN_UPLOAD: upload,
        PODNET_PLUGIN_PATH: target,
        PODNET_PLUGIN_SHA256: sha,
        BUN_DIR: NODE_RUNTIME_DIR,
      });
    };

    const refused = install("0".repeat(64));
    assert.notEqual(refused.status, 0, "installed a bundle whose sha256 is not the tag's");
    assert.match(refused.stderr, /the image is tagged 0{64}/);
    assert.ok(!existsSync(target));

    const ok = install(sha256(bundle));
    assert.equal(ok.status, 0, output(ok));
    assert.equal(sha256(target), sha256(bundle));
    assert.equal(statSync(target).mode & 0o777, 0o755);
    assert.ok(!existsSync(upload), "the upload is removed");
    assert.match(ok.stdout, /"supportedVersions"/, "the installed plugin answered CNI VERSION");
  });

  it("pins the Bun of package.json, with package-lock.json's integrity, where the shebang looks", function () {
    const values = inspect();
    assert.equal(local(values, "bun_dir"), NODE_RUNTIME_DIR);
    const lock = JSON.parse(readFileSync(join(repo, "package-lock.json"), "utf8")) as {
      packages: Record<string, { version?: string; integrity?: string }>;
    };
    const pinned = hclMap(values.get("var.bun_integrity") ?? "");
    const packages = ["bun-linux-x64", "bun-linux-x64-baseline", "bun-linux-aarch64"];
    assert.deepEqual(Object.keys(pinned).sort(), [...packages].sort());
    for (const name of packages) {
      const locked = lock.packages[`node_modules/@oven/${name}`];
      assert.ok(locked, `package-lock.json has no @oven/${name}`);
      assert.equal(locked.version, values.get("var.bun_version"), `bun_version is the locked @oven/${name}`);
      assert.equal(pinned[name], locked.integrity, `bun_integrity["${name}"] is package-lock.json's`);
    }
    assert.equal(values.get("var.bun_version"), pinnedBunVersion(), "bun_version is package.json's");
    const template = readFileSync(join(packerDir, "node.pkr.hcl"), "utf8");
    for (const env of [
      "BUN_VERSION=${var.bun_version}",
      "BUN_DIR=${local.bun_dir}",
      'BUN_INTEGRITY_AARCH64=${var.bun_integrity["bun-linux-aarch64"]}',
    ]) {
      assert.ok(template.includes(`"${env}"`), `the shell provisioner passes ${env}`);
    }
  });

  it("50-bun.sh installs the tarball whose sha512 is pinned for this CPU and refuses any other", function () {
    const version = pinnedBunVersion();
    const pkg = bunPackage().replace("@oven/", "");
    // A registry in a directory: the tarball layout npm serves, with a stand-in bun.
    const registry = join(work, "registry");
    const staging = join(work, "bun-package");
    mkdirSync(join(staging, "package", "bin"), { recursive: true });
    writeFileSync(join(staging, "package", "bin", "bun"), `#!/bin/sh\necho ${version}\n`, { mode: 0o755 });
    const tarball = join(registry, "@oven", pkg, "-", `${pkg}-${version}.tgz`);
    mkdirSync(join(tarball, ".."), { recursive: true });
    assert.equal(run("tar", ["-czf", tarball, "-C", staging, "package"]).status, 0);
    const integrity = `sha512-${createHash("sha512").update(readFileSync(tarball)).digest("base64")}`;
    const other = `sha512-${createHash("sha512").update("another file").digest("base64")}`;
    const bunDir = join(work, "opt-podnet-bin");
    const install = (sri: string) =>
      run("bash", [join(scriptsDir, "50-bun.sh")], {
        ...process.env,
        BUN_VERSION: version,
        BUN_DIR: bunDir,
        NPM_REGISTRY: `file://${registry}`,
        BUN_INTEGRITY_X64: sri,
        BUN_INTEGRITY_X64_BASELINE: sri,
        BUN_INTEGRITY_AARCH64: sri,
      });

    const refused = install(other);
    assert.notEqual(refused.status, 0, "installed a tarball whose sha512 is not the pinned one");
    assert.match(refused.stderr, /package-lock\.json pins/);
    assert.ok(!existsSync(join(bunDir, "bun")));

    const ok = install(integrity);
    assert.equal(ok.status, 0, output(ok));
    assert.equal(statSync(join(bunDir, "bun")).mode & 0o777, 0o755);
    assert.match(ok.stdout, new RegExp(`bun: ${pkg} ${version.replace(/\./g, "\\.")} in `));
  });

  it("pre-pulls the connectivity checks' agnhost image, pinned as a variable equal to verify/manifests.ts", function () {
    const values = inspect();
    assert.equal(values.get("var.agnhost_image"), AGNHOST_IMAGE);
    const template = readFileSync(join(packerDir, "node.pkr.hcl"), "utf8");
    assert.ok(template.includes('"AGNHOST_IMAGE=${var.agnhost_image}"'), "the shell provisioner passes AGNHOST_IMAGE");
    for (const bad of ["registry.k8s.io/e2e-test-images/agnhost:latest", "registry.k8s.io/e2e-test-images/agnhost"]) {
      const r = packer(["validate", "-var", `agnhost_image=${bad}`, copy]);
      assert.notEqual(r.status, 0, `packer validate accepted agnhost_image=${bad}`);
      assert.match(output(r), /must be a pinned image/);
    }

    // The script under bash with stub kubeadm and crictl: it pulls the image, then insists it is there.
    const bin = join(work, "prepull-bin");
    mkdirSync(bin, { recursive: true });
    const pulled = join(work, "pulled");
    writeFileSync(
      join(bin, "kubeadm"),
      '#!/bin/sh\ncase "$*" in\n  "version -o short") echo v1.35.1 ;;\n  "config images list"*) echo registry.k8s.io/pause:3.10 ;;\nesac\n',
      { mode: 0o755 },
    );
    writeFileSync(
      join(bin, "crictl"),
      `#!/bin/sh\ncase "$1" in\n  pull) echo "$2" >>${pulled} ;;\n  inspecti) grep -qxF "$2" ${pulled} 2>/dev/null || [ "$2" = registry.k8s.io/pause:3.10 ] ;;\nesac\n`,
      { mode: 0o755 },
    );
    const prepull = (extra: NodeJS.ProcessEnv) =>
      run("bash", [join(scriptsDir, "70-prepull-images.sh")], {
        ...process.env,
        PATH: `${bin}:${process.env.PATH}`,
        ...extra,
      });
    const ok = prepull({ AGNHOST_IMAGE });
    assert.equal(ok.status, 0, output(ok));
    assert.equal(readFileSync(pulled, "utf8"), `${AGNHOST_IMAGE}\n`);
    assert.match(ok.stdout, /prepull-images: 2 images for v1\.35\.1/);
    const unset = prepull({ AGNHOST_IMAGE: "" });
    assert.notEqual(unset.status, 0);
    assert.match(unset.stderr, /AGNHOST_IMAGE is not set/);
  });
});
