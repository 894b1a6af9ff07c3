# The podnet node image: Ubuntu 24.04 LTS with containerd, kubeadm/kubelet/kubectl, the CNI
# binaries, the pinned Bun and the podnet plugin baked in, so a node boots ready for kubeadm.
# Build with `npm run image` (packer/build.sh); see docs/image.md.

locals {
  # Where the image installs the plugin and where kubelet/containerd look for CNI binaries
  # and configs. Must equal CNI_BIN_DIR, CNI_CONF_DIR and PLUGIN_PATH in cni/conflist.ts,
  # which the Pulumi stack and the lab use (test/packer.test.ts checks it).
  cni_bin_dir  = "/opt/cni/bin"
  cni_conf_dir = "/etc/cni/net.d"
  plugin_path  = "${local.cni_bin_dir}/podnet"
  # Where dist/podnet's shebang looks for Bun first: NODE_RUNTIME_DIR in cni/runtime.ts.
  bun_dir = "/opt/podnet/bin"

  # The bundle `npm run build` writes (cni/build.mjs: dist/podnet), uploaded as is.
  plugin_bundle = var.plugin_bundle != "" ? var.plugin_bundle : "${path.root}/../dist/podnet"
  plugin_upload = "/tmp/podnet-bundle"
  # The apt helper the scripts source; /var/tmp rather than /tmp, which is emptied at boot,
  # so the scripts after the reboot find it too. 99-cleanup.sh empties /var/tmp.
  apt_helper_upload = "/var/tmp/podnet-apt.sh"
  # Where the reboot provisioner saves the boot id it reboots from (80-image-release.sh).
  boot_id_before_reboot = "/var/tmp/podnet-boot-id-before-reboot"

  # Every script runs as root with these inputs.
  script_execute_command = "chmod +x '{{ .Path }}' && sudo env {{ .Vars }} '{{ .Path }}'"
  script_env = [
    "KUBERNETES_MINOR=${var.kubernetes_minor}",
    "CNI_BIN_DIR=${local.cni_bin_dir}",
    "CNI_CONF_DIR=${local.cni_conf_dir}",
    "PODNET_PLUGIN_PATH=${local.plugin_path}",
    "PODNET_PLUGIN_UPLOAD=${local.plugin_upload}",
    "PODNET_PLUGIN_SHA256=${local.plugin_sha256}",
    "PODNET_APT_HELPER=${local.apt_helper_upload}",
    "PODNET_BOOT_ID_BEFORE_REBOOT=${local.boot_id_before_reboot}",
    "IMAGE_NAME=${local.ami_name}",
    "BUN_VERSION=${var.bun_version}",
    "BUN_DIR=${local.bun_dir}",
    "NPM_REGISTRY=${var.npm_registry}",
    "BUN_INTEGRITY_X64=${var.bun_integrity["bun-linux-x64"]}",
    "BUN_INTEGRITY_X64_BASELINE=${var.bun_integrity["bun-linux-x64-baseline"]}",
    "BUN_INTEGRITY_AARCH64=${var.bun_integrity["bun-linux-aarch64"]}",
    "AGNHOST_IMAGE=${var.agnhost_image}",
  ]
  # sha256(file()) rather than filesha256() so that packer 1.6.6 can validate the template
  # too; esbuild writes ASCII, which file() reads unchanged. The install script checks the
  # uploaded copy against this digest, so the tag cannot name another file.
  plugin_sha256 = sha256(file(local.plugin_bundle))

  ubuntu_arch   = lookup({ x86_64 = "amd64", arm64 = "arm64" }, var.arch, "")
  instance_type = var.instance_type != "" ? var.instance_type : lookup({ x86_64 = "t3.medium", arm64 = "t4g.medium" }, var.arch, "")

  # components/image.ts finds images by "podnet-node-k8s-<minor>-<arch>-*".
  build_time = formatdate("YYYYMMDDhhmmss", timestamp())
  ami_name   = "podnet-node-k8s-${var.kubernetes_minor}-${var.arch}-${local.build_time}-${substr(local.plugin_sha256, 0, 12)}"

  # Tag keys are AMI_TAG_* of components/image.ts.
  ami_tags = {
    Name                        = local.ami_name
    "podnet:kubernetes-version" = var.kubernetes_minor
    "podnet:plugin-sha256"      = local.plugin_sha256
    "podnet:arch"               = var.arch
    "podnet:base-ami"           = "{{ .SourceAMI }}"
    "podnet:base-ami-name"      = "{{ .SourceAMIName }}"
  }
}

source "amazon-ebs" "node" {
  region        = var.region
  instance_type = local.instance_type
  ssh_username  = "ubuntu"

  # Only the machine running Packer may reach the build instance's SSH port, unless
  # var.ssh_source_cidrs names the ranges (the plugin then ignores the public IP setting).
  temporary_security_group_source_public_ip = true
  temporary_security_group_source_cidrs     = var.ssh_source_cidrs

  # IMDSv2 only, on the build instance (accounts may refuse instances without it) and on
  # every instance launched from the AMI (imds_support); the stack's nodes ask for it too.
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }
  imds_support = "v2.0"

  # The newest Ubuntu 24.04 LTS server image Canonical has published for this architecture.
  source_ami_filter {
    filters = {
      name                = "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-${local.ubuntu_arch}-server-*"
      architecture        = var.arch
      root-device-type    = "ebs"
      virtualization-type = "hvm"
    }
    owners      = ["099720109477"] # Canonical
    most_recent = true
  }

  launch_block_device_mappings {
    device_name           = "/dev/sda1"
    volume_size           = var.volume_size
    volume_type           = "gp3"
    iops                  = 3000
    throughput            = 125
    delete_on_termination = true
  }

  ami_name        = local.ami_name
  ami_description = "podnet node: Ubuntu 24.04 LTS, Kubernetes ${var.kubernetes_minor}, containerd, podnet plugin sha256 ${local.plugin_sha256}"
  ena_support     = true
  sriov_support   = true
  tags            = local.ami_tags
  snapshot_tags   = local.ami_tags
  run_tags = {
    Name = "packer build ${local.ami_name}"
  }
}

build {
  sources = ["source.amazon-ebs.node"]

  provisioner "file" {
    source      = local.plugin_bundle
    destination = local.plugin_upload
  }
  provisioner "file" {
    source      = "${path.root}/lib/apt.sh"
    destination = local.apt_helper_upload
  }

  # One script per concern, in order, as root; each takes its inputs from local.script_env.
  provisioner "shell" {
    execute_command  = local.script_execute_command
    environment_vars = local.script_env
    scripts = [
      "${path.root}/scripts/01-base-packages.sh",
      "${path.root}/scripts/10-kernel-modules.sh",
      "${path.root}/scripts/11-sysctl.sh",
      "${path.root}/scripts/12-swap-off.sh",
      "${path.root}/scripts/20-kubernetes.sh",
      "${path.root}/scripts/30-containerd.sh",
      "${path.root}/scripts/40-cni-plugins.sh",
      "${path.root}/scripts/50-bun.sh",
      "${path.root}/scripts/60-podnet.sh",
      "${path.root}/scripts/65-unattended-upgrades.sh",
    ]
  }

  # Boot what nodes will boot (the full upgrade may have installed a newer kernel), so the
  # rest of the build, and what 80-image-release.sh records, runs on it.
  provisioner "shell" {
    inline            = ["cat /proc/sys/kernel/random/boot_id >${local.boot_id_before_reboot}", "sudo systemctl reboot"]
    expect_disconnect = true
  }

  provisioner "shell" {
    # Long enough for the instance to go down, so this does not connect to the old boot.
    pause_before     = "30s"
    execute_command  = local.script_execute_command
    environment_vars = local.script_env
    scripts = [
      "${path.root}/scripts/70-prepull-images.sh",
      "${path.root}/scripts/80-image-release.sh",
      "${path.root}/scripts/99-cleanup.sh",
    ]
  }

  post-processor "manifest" {
    output     = "${path.root}/manifest.json"
    strip_path = true
    custom_data = {
      ami_name         = local.ami_name
      arch             = var.arch
      kubernetes_minor = var.kubernetes_minor
      plugin_sha256    = local.plugin_sha256
      region           = var.region
    }
  }
}
