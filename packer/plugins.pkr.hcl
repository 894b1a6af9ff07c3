# Packer and its Amazon plugin, pinned to what this template is written and checked for:
# `packer init packer/` (packer/build.sh runs it) installs exactly this plugin version, and
# build.sh checks the installed Packer against required_version before it starts.
# Kept alone in this file because Debian's packer 1.6.6, which the test suite uses
# for fmt/validate, rejects the required_plugins block; the tests validate every other file.
packer {
  required_version = ">= 1.10.0, < 2.0.0"
  required_plugins {
    amazon = {
      # 1.3.9: node.pkr.hcl's fields are checked against its builder/common/run_config.go
      # and ami_config.go. It is the last release with binaries on GitHub, where Packer
      # 1.10 to 1.13 look (1.14+ try releases.hashicorp.com first, then GitHub), so every
      # Packer in required_version installs this same plugin.
      version = "= 1.3.9"
      source  = "github.com/hashicorp/amazon"
    }
  }
}
