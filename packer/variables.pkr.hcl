# Inputs of the node image build. Override with -var name=value (npm run image -- -var ...)
# or PKR_VAR_name environment variables.

variable "region" {
  type        = string
  default     = "us-east-1"
  description = "AWS region the image is built in and registered to; the Pulumi stack finds it only in this region."
}

variable "arch" {
  type        = string
  default     = "x86_64"
  description = "CPU architecture as AWS names it in the AMI (x86_64 or arm64); components/image.ts uses the same names."

  validation {
    condition     = contains(["x86_64", "arm64"], var.arch)
    error_message = "The arch variable must be x86_64 or arm64 (AWS architecture names)."
  }
}

variable "instance_type" {
  type        = string
  default     = ""
  description = "Build instance type; empty picks t3.medium for x86_64 and t4g.medium for arm64."
}

variable "kubernetes_minor" {
  type        = string
  default     = "1.35"
  description = "Kubernetes minor version: the pkgs.k8s.io repository the image installs kubeadm, kubelet and kubectl from (newest patch)."

  validation {
    # regex_replace rather than regex(): packer 1.6.6, which the tests use, lacks regex().
    condition     = regex_replace(var.kubernetes_minor, "^1\\.[0-9]+$", "") == ""
    error_message = "The kubernetes_minor variable must be a minor version such as 1.35."
  }

  validation {
    # KUBERNETES_MINORS in components/image.ts, as a pattern: packer 1.6.6 has no tonumber().
    condition     = regex_replace(var.kubernetes_minor, "^1\\.3[2-6]$", "") == ""
    error_message = "The kubernetes_minor variable must be from 1.32 to 1.36, the minors containerd's support matrix pairs with the containerd 2 this image installs."
  }
}

variable "volume_size" {
  type        = number
  default     = 20
  description = "Root volume size of the image in GiB (gp3)."
}

variable "plugin_bundle" {
  type        = string
  default     = ""
  description = "The podnet plugin bundle to install as /opt/cni/bin/podnet; empty means dist/podnet of this repository, as `npm run build` writes it."
}

variable "ssh_source_cidrs" {
  type        = list(string)
  default     = []
  description = "CIDRs the build instance's temporary security group admits SSH from; empty means only this machine's public IP, as https://checkip.amazonaws.com reports it (set it when a NAT changes that address between connections)."
}

variable "agnhost_image" {
  type        = string
  default     = "registry.k8s.io/e2e-test-images/agnhost:2.53"
  description = "The image the connectivity checks run (verify/manifests.ts AGNHOST_IMAGE, which must be the same), pre-pulled so no registry is on their critical path."

  validation {
    condition     = regex_replace(var.agnhost_image, "^[a-z0-9.-]+(/[a-z0-9._-]+)+:[0-9]+[.][0-9]+$", "") == ""
    error_message = "The agnhost_image variable must be a pinned image such as registry.k8s.io/e2e-test-images/agnhost:2.53."
  }
}

variable "bun_version" {
  type        = string
  default     = "1.4.5"
  description = "Bun version the plugin runs on: the @oven/bun-linux-* version package.json pins (test/packer.test.ts checks it)."
}

variable "bun_integrity" {
  type = map(string)
  default = {
    "bun-linux-x64"          = "sha512-IWX9BELoGHAUtMonkeSaNaZwXzRk+oDw6Mk+HBFXd3KHYIBNBsIGRupMZPcgNoDbJpLu6gAJjIoIVPZtt1aJ1g=="
    "bun-linux-x64-baseline" = "sha512-s8yMwYcFnnrA178gji0gZbkE2WVDej/Ti1x770oPfihxyRxSMNhGhiAQNXV53aDeraZxksdvKV/RAdQBCd0qPA=="
    "bun-linux-aarch64"      = "sha512-4BXmsSKnjOrlGWqZV4x/oWa7AVoR+B6lCXddMzOAXBIm3t50eslg9wb66gmtW1AamEQ1l1CDvmmruysEhqOWMg=="
  }
  description = "sha512 integrity of each @oven/bun-linux-* tarball at bun_version, as package-lock.json records it; 50-bun.sh refuses any other file."
}

variable "npm_registry" {
  type        = string
  default     = "https://registry.npmjs.org"
  description = "npm registry (or mirror) the Bun tarball is fetched from; the integrity check makes any mirror safe."
}
