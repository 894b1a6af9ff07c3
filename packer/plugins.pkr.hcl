# Plugins for current Packer (1.10+): `packer init packer/` installs them.
# Kept alone in this file because Debian's packer 1.6.6, which the test suite uses
# for fmt/validate, rejects the required_plugins block; the tests validate every other file.
packer {
  required_version = ">= 1.10.0"
  required_plugins {
    amazon = {
      version = "~> 1.3"
      source  = "github.com/hashicorp/amazon"
    }
  }
}
