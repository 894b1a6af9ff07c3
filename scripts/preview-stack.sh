#!/usr/bin/env bash
# Creates the stack the pull-request workflow previews (.github/workflows/pull-request.yml),
# once per repository, on the machine of someone who has the backend and the passphrase:
#   PULUMI_BACKEND_URL=s3://my-pulumi-state PULUMI_CONFIG_PASSPHRASE=... \
#     npm run preview-stack -- [--stack ci] [--region us-east-1] [--admin-cidr 203.0.113.7/32]
# It logs in to the backend, creates the stack with the passphrase secrets provider, sets
# the region and adminCidrs, and leaves Pulumi.<stack>.yaml (settings and the encryption
# salt the workflow needs) for you to commit. A preview creates nothing, so the admin CIDR
# only has to pass validation; give your own address if the stack may ever be deployed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

stack=ci
region=${AWS_REGION:-${AWS_DEFAULT_REGION:-us-east-1}}
admin_cidr=203.0.113.7/32
while (($# > 0)); do
  case $1 in
    --stack) stack=${2:?--stack needs a name}; shift 2 ;;
    --region) region=${2:?--region needs a region}; shift 2 ;;
    --admin-cidr) admin_cidr=${2:?--admin-cidr needs a CIDR}; shift 2 ;;
    *) echo "preview-stack: unknown argument $1 (use --stack, --region, --admin-cidr)" >&2; exit 2 ;;
  esac
done

fail() { echo "preview-stack: $*" >&2; exit 1; }
command -v pulumi >/dev/null || fail "pulumi not found: install the Pulumi CLI (https://www.pulumi.com/docs/install/)"
[[ -n ${PULUMI_BACKEND_URL:-} ]] || fail "PULUMI_BACKEND_URL is not set: export the backend the workflow uses (its secrets.PULUMI_BACKEND_URL), e.g. s3://my-pulumi-state"
[[ -n ${PULUMI_CONFIG_PASSPHRASE:-} ]] || fail "PULUMI_CONFIG_PASSPHRASE is not set: export the passphrase the workflow uses (its secrets.PULUMI_CONFIG_PASSPHRASE)"
[[ ! -e Pulumi.${stack}.yaml ]] || fail "Pulumi.${stack}.yaml exists already: the stack is set up; commit that file, or pick another --stack"

pulumi login "$PULUMI_BACKEND_URL"
pulumi stack init "$stack" --secrets-provider passphrase
pulumi config set --stack "$stack" aws:region "$region"
pulumi config set --stack "$stack" --path 'podnet:adminCidrs[0]' "$admin_cidr"

[[ -f Pulumi.${stack}.yaml ]] || fail "pulumi wrote no Pulumi.${stack}.yaml"
cat <<DONE
preview-stack: stack ${stack} is ready in ${PULUMI_BACKEND_URL} (region ${region}).
Commit its settings so the workflow finds them:
  git add Pulumi.${stack}.yaml && git commit -m "CI preview stack ${stack}"
If the stack is not called ci, set the repository variable PULUMI_STACK=${stack}.
DONE
