# The podnet node image: Ubuntu 24.04 LTS with containerd, kubeadm/kubelet/kubectl, the CNI
# binaries, Node.js and the podnet plugin baked in, so a node boots ready for kubeadm.
# Build with `npm run image` (packer/build.sh); see the README's "Node image" section.

locals {
  # Where the image installs the plugin and where kubelet/containerd look for CNI binaries
  # and configs. Must equal CNI_BIN_DIR, CNI_CONF_DIR and PLUGIN_PATH in cni/conflist.ts,
  # which the Pulumi stack and the lab use (test/packer.test.ts checks it).
  cni_bin_dir  = "/opt/cni/bin"
  cni_conf_dir = "/etc/cni/net.d"
  plugin_path  = "${local.cni_bin_dir}/podnet"

  # The bundle `npm run build` writes (cni/build.mjs: dist/podnet), uploaded as is.
  plugin_bundle = var.plugin_bundle != "" ? var.plugin_bundle : "${path.root}/../dist/podnet"
  plugin_upload = "/tmp/podnet-bundle"
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

  # One script per concern, in order, as root; each takes its inputs from these variables.
  provisioner "shell" {
    execute_command = "chmod +x '{{ .Path }}' && sudo env {{ .Vars }} '{{ .Path }}'"
    environment_vars = [
      "KUBERNETES_MINOR=${var.kubernetes_minor}",
      "CNI_BIN_DIR=${local.cni_bin_dir}",
      "CNI_CONF_DIR=${local.cni_conf_dir}",
      "PODNET_PLUGIN_PATH=${local.plugin_path}",
      "PODNET_PLUGIN_UPLOAD=${local.plugin_upload}",
      "PODNET_PLUGIN_SHA256=${local.plugin_sha256}",
      "IMAGE_NAME=${local.ami_name}",
      "AGNHOST_IMAGE=${var.agnhost_image}",
    ]
    scripts = [
      "${path.root}/scripts/01-base-packages.sh",
      "${path.root}/scripts/10-kernel-modules.sh",
      "${path.root}/scripts/11-sysctl.sh",
      "${path.root}/scripts/12-swap-off.sh",
      "${path.root}/scripts/20-kubernetes.sh",
      "${path.root}/scripts/30-containerd.sh",
      "${path.root}/scripts/40-cni-plugins.sh",
      "${path.root}/scripts/50-nodejs.sh",
      "${path.root}/scripts/60-podnet.sh",
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
