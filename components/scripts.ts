// The shell the bootstrap commands run on the nodes, rendered from TypeScript so every
// script is strict bash, small, and unit-tested (syntax, shellcheck, and what it embeds).
//
// Conventions: each script logs "podnet <step> <node>: ..." to stderr and keeps stdout for
// its result; anything secret on stdout is sealed (see seal.ts) so the command provider's
// log stream and errors never carry it in clear; secrets going to a node come on stdin,
// never in the script (the provider's error quotes the command text); every step is safe
// to run again.
import { CNI_CONF_DIR, CONFLIST_PATH, PLUGIN_PATH } from "../cni/conflist";
import { SEALED_PREFIX } from "./seal";

/** kubeadm configs carry this where the image's exact kubeadm version goes. */
export const KUBERNETES_VERSION_PLACEHOLDER = "__PODNET_KUBERNETES_VERSION__";
export const ADMIN_KUBECONFIG = "/etc/kubernetes/admin.conf";
export const KUBEADM_CONFIG_DIR = "/etc/kubernetes/podnet";
/** How long a worker's join token lives; a join that has not happened by then needs a new token. */
export const JOIN_TOKEN_TTL = "2h";
/** How long to wait for a node to report Ready once it has joined. */
export const NODE_READY_TIMEOUT = "300s";

const SCRIPT_DELIMITER = "PODNET_SCRIPT";

/**
 * A here-document whose body is taken literally (quoted delimiter). Refuses content that
 * would end it early, so embedded files arrive byte for byte.
 */
export function heredoc(command: string, delimiter: string, content: string): string {
  const body = content.endsWith("\n") ? content : `${content}\n`;
  if (body.split("\n").some((line) => line === delimiter)) {
    throw new Error(`content contains the here-document delimiter ${delimiter}`);
  }
  return `${command} <<'${delimiter}'\n${body}${delimiter}`;
}

/**
 * What the command provider runs over SSH: a POSIX sh wrapper (the login shell runs it)
 * that writes the bash script to a private temp file and runs it as root. The script is
 * not fed on stdin, so nothing in it can swallow its own text, and the command's stdin
 * (where secrets travel) reaches the script.
 */
export function remoteScript(script: string): string {
  return [
    "# shellcheck shell=sh",
    "set -eu",
    "script=$(mktemp /tmp/podnet.XXXXXX)",
    "trap 'rm -f \"$script\"' EXIT",
    heredoc('cat >"$script"', SCRIPT_DELIMITER, script),
    'sudo bash "$script"',
    "",
  ].join("\n");
}

/** The script inside remoteScript, for tests and for reading logs. */
export function innerScript(remote: string): string {
  const start = remote.indexOf(`<<'${SCRIPT_DELIMITER}'\n`);
  const end = remote.lastIndexOf(`\n${SCRIPT_DELIMITER}\n`);
  if (start < 0 || end < 0) throw new Error("not a podnet remote script");
  return remote.slice(start + `<<'${SCRIPT_DELIMITER}'\n`.length, end + 1);
}

/** The start of every script: strict bash, and log/fail helpers that name the step and node. */
function prelude(step: string, node: string): string {
  return [
    "#!/usr/bin/env bash",
    "set -euo pipefail",
    `STEP=${shellQuote(step)}`,
    `NODE=${shellQuote(node)}`,
    'log() { printf \'podnet %s %s: %s\\n\' "$STEP" "$NODE" "$*" >&2; }',
    'fail() { log "ERROR: $*"; exit 1; }',
  ].join("\n");
}

/** Single-quotes a value for bash. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** kubectl as the cluster admin, on the control plane. */
const KUBECTL_ADMIN = `export KUBECONFIG=${ADMIN_KUBECONFIG}`;

/** What a script holds besides the prelude every script starts with. */
export interface ScriptParts {
  /** The step, named in every log line: wait, cni, init, join, ... */
  readonly step: string;
  /** The node the script runs on, named in every log line. */
  readonly node: string;
  /** kubectl as the cluster admin (scripts that run on the control plane). */
  readonly admin?: boolean;
  /** The stack's public key: the script can seal what it prints for the stack alone (seal.ts). */
  readonly sealFor?: string;
  /** The variables and functions the body uses. */
  readonly setup?: readonly string[];
  /** The commands. */
  readonly body: readonly string[];
}

/** A whole script: prelude, admin kubeconfig, seal, setup and body, in that order, ending in a newline. */
export function bashScript(parts: ScriptParts): string {
  return [
    prelude(parts.step, parts.node),
    ...(parts.admin ? [KUBECTL_ADMIN] : []),
    ...(parts.sealFor === undefined ? [] : [sealFunction(parts.sealFor)]),
    ...(parts.setup ?? []),
    ...parts.body,
    "",
  ].join("\n");
}

const NOT_A_NODE_IMAGE = "the AMI is not a podnet node image";

/**
 * Waits until a node can be bootstrapped: cloud-init done, the image's runtime and tools in
 * place, and kubeadm at the minor the stack was configured for.
 */
export function waitForNodeScript(input: { nodeName: string; kubernetesVersion: string }): string {
  return bashScript({
    step: "wait",
    node: input.nodeName,
    setup: [`WANT_MINOR=${shellQuote(input.kubernetesVersion)}`],
    body: [
      'log "waiting for cloud-init to finish"',
      "status=0",
      "cloud-init status --wait >/dev/null || status=$?",
      'case "$status" in',
      "  0) ;;",
      '  2) log "cloud-init finished with recoverable errors; continuing"; cloud-init status --long >&2 || true ;;',
      '  *) cloud-init status --long >&2 || true; fail "cloud-init failed (exit $status); see /var/log/cloud-init-output.log" ;;',
      "esac",
      "for unit in containerd kubelet; do",
      `  systemctl cat "$unit.service" >/dev/null 2>&1 || fail "$unit.service is missing: ${NOT_A_NODE_IMAGE} (npm run image)"`,
      "done",
      'systemctl is-active --quiet containerd || { systemctl status containerd --no-pager >&2 || true; fail "containerd is not running"; }',
      `for tool in kubeadm kubelet kubectl openssl ${PLUGIN_PATH}; do`,
      `  command -v "$tool" >/dev/null || fail "$tool is missing: ${NOT_A_NODE_IMAGE} (npm run image)"`,
      "done",
      "version=$(kubeadm version -o short)",
      'case "$version" in',
      '  "v$WANT_MINOR".*) ;;',
      '  *) fail "the image has kubeadm $version but podnet:kubernetesVersion is $WANT_MINOR; build a matching image or set the key" ;;',
      "esac",
      '[[ "$(hostname)" == "$NODE" ]] || log "warning: hostname is $(hostname), node name is $NODE"',
      'log "ready: kubeadm $version, $(containerd --version)"',
    ],
  });
}

/** Installs the node's conflist (rendered by cni/conflist.ts) atomically; unchanged files are left alone. */
export function writeConflistScript(input: { nodeName: string; conflistJson: string }): string {
  return bashScript({
    step: "cni",
    node: input.nodeName,
    body: [
      `[[ -x ${PLUGIN_PATH} ]] || fail "${PLUGIN_PATH} is missing: ${NOT_A_NODE_IMAGE}"`,
      `install -d -m 0755 ${CNI_CONF_DIR}`,
      `tmp=$(mktemp ${CNI_CONF_DIR}/.podnet.XXXXXX)`,
      "trap 'rm -f \"$tmp\"' EXIT",
      heredoc('cat >"$tmp"', "PODNET_CONFLIST", input.conflistJson),
      'chmod 0644 "$tmp"',
      `if cmp -s "$tmp" ${CONFLIST_PATH}; then`,
      `  log "${CONFLIST_PATH} is up to date"`,
      "else",
      `  mv -f "$tmp" ${CONFLIST_PATH}`,
      `  log "wrote ${CONFLIST_PATH}"`,
      "fi",
      "shopt -s nullglob",
      `for other in ${CNI_CONF_DIR}/*.conf ${CNI_CONF_DIR}/*.conflist ${CNI_CONF_DIR}/*.json; do`,
      `  [[ "$other" == ${CONFLIST_PATH} ]] || log "warning: $other is also present; the runtime uses the first file by name"`,
      "done",
      `cat ${CONFLIST_PATH} >&2`,
    ],
  });
}

/** Bash that sets a Node's spec.podCIDR once, and refuses to pretend when it already holds another. */
export function setPodCidrFunction(): string {
  return [
    "wait_for_node() {",
    "  local i",
    "  for i in $(seq 1 90); do",
    '    kubectl get node "$1" -o name >/dev/null 2>&1 && return 0',
    '    [[ $i -eq 1 ]] && log "waiting for Node $1 to register"',
    "    sleep 2",
    "  done",
    '  fail "Node $1 did not register within 3 minutes; journalctl -u kubelet on that node tells why"',
    "}",
    "set_pod_cidr() {",
    "  local node=$1 cidr=$2 current",
    "  current=$(kubectl get node \"$node\" -o jsonpath='{.spec.podCIDR}')",
    '  if [[ -z "$current" ]]; then',
    '    kubectl patch node "$node" --type merge -p "{\\"spec\\":{\\"podCIDR\\":\\"$cidr\\",\\"podCIDRs\\":[\\"$cidr\\"]}}" >&2',
    '    log "Node $node spec.podCIDR set to $cidr"',
    '  elif [[ "$current" == "$cidr" ]]; then',
    '    log "Node $node spec.podCIDR is already $cidr"',
    "  else",
    '    fail "Node $node has spec.podCIDR $current but its VPC route and conflist use $cidr; podCIDR cannot change, so delete the Node (kubectl delete node $node) and run pulumi up again"',
    "  fi",
    "}",
    "wait_ready() {",
    `  if ! kubectl wait --for=condition=Ready "node/$1" --timeout=${NODE_READY_TIMEOUT} >&2; then`,
    '    kubectl describe node "$1" >&2 || true',
    `    fail "Node $1 is not Ready after ${NODE_READY_TIMEOUT}; check the kubelet (journalctl -u kubelet) and ${CONFLIST_PATH} on it"`,
    "  fi",
    '  log "Node $1 is Ready"',
    "}",
  ].join("\n");
}

/** The seal function: stdin -> one sealed line on stdout, readable only with the stack's key. */
export function sealFunction(publicKeyPem: string): string {
  return [
    "seal() {",
    "  local pub key iv wrapped body",
    "  pub=$(mktemp)",
    heredoc('  cat >"$pub"', "PODNET_PUBLIC_KEY", publicKeyPem),
    "  key=$(openssl rand -hex 32)",
    "  iv=$(openssl rand -hex 16)",
    '  wrapped=$(printf \'%s%s\' "$key" "$iv" | openssl pkeyutl -encrypt -pubin -inkey "$pub" -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256 | base64 -w0)',
    '  body=$(openssl enc -aes-256-cbc -K "$key" -iv "$iv" | base64 -w0)',
    '  rm -f "$pub"',
    `  printf '${SEALED_PREFIX}%s:%s\\n' "$wrapped" "$body"`,
    "}",
  ].join("\n");
}

/** A join token for one worker, created on the control plane; the join line leaves sealed. */
export function joinTokenScript(input: { controlPlaneName: string; workerName: string; publicKeyPem: string }): string {
  return bashScript({
    step: "join-token",
    node: input.controlPlaneName,
    admin: true,
    sealFor: input.publicKeyPem,
    body: [
      `log "creating a ${JOIN_TOKEN_TTL} join token for ${input.workerName}"`,
      `kubeadm token create --ttl ${JOIN_TOKEN_TTL} --description ${shellQuote(`podnet: join of ${input.workerName}`)} --print-join-command | seal`,
    ],
  });
}

/** Reads admin.conf, sealed, for the stack's kubeconfig output. */
export function readKubeconfigScript(input: { controlPlaneName: string; publicKeyPem: string }): string {
  return bashScript({
    step: "kubeconfig",
    node: input.controlPlaneName,
    sealFor: input.publicKeyPem,
    body: [
      `[[ -f ${ADMIN_KUBECONFIG} ]] || fail "${ADMIN_KUBECONFIG} is missing: kubeadm init has not run"`,
      `seal <${ADMIN_KUBECONFIG}`,
      'log "admin kubeconfig read (sealed)"',
    ],
  });
}

/**
 * kubeadm join on a worker. The JoinConfiguration (it holds the token) arrives on stdin,
 * never in the command text, which the provider quotes when a command fails. A node
 * already joined to this cluster (same CA hash) is left alone; one joined to another
 * cluster (a replaced control plane) is reset first.
 */
export function kubeadmJoinScript(input: { nodeName: string; caCertHash: string }): string {
  const config = `${KUBEADM_CONFIG_DIR}/kubeadm-join.yaml`;
  return bashScript({
    step: "join",
    node: input.nodeName,
    setup: [
      `WANT_CA=${shellQuote(input.caCertHash)}`,
      "ca_hash() {",
      "  openssl x509 -in /etc/kubernetes/pki/ca.crt -noout -pubkey | openssl pkey -pubin -outform der | sha256sum | cut -d' ' -f1",
      "}",
    ],
    body: [
      `install -d -m 0700 ${KUBEADM_CONFIG_DIR}`,
      `trap 'rm -f ${config}' EXIT`,
      `( umask 077; cat >${config} )`,
      `grep -q '^kind: JoinConfiguration$' ${config} || fail "no JoinConfiguration on stdin"`,
      "if [[ -f /etc/kubernetes/kubelet.conf ]]; then",
      '  have="sha256:$(ca_hash)"',
      '  if [[ "$have" == "$WANT_CA" ]]; then',
      '    log "already joined to this cluster; kubeadm join skipped"',
      "    systemctl is-active --quiet kubelet || systemctl restart kubelet",
      "    exit 0",
      "  fi",
      '  log "joined to another cluster (CA $have); kubeadm reset before joining this one"',
      "  kubeadm reset --force >&2",
      "fi",
      'log "kubeadm join (the config holds the token and is removed afterwards)"',
      `kubeadm join --config ${config} >&2`,
      'log "joined"',
    ],
  });
}

/** On the control plane once a worker joined: its spec.podCIDR, then Ready. */
export function registerNodeScript(input: { controlPlaneName: string; nodeName: string; podCidr: string }): string {
  const node = shellQuote(input.nodeName);
  return bashScript({
    step: "register",
    node: input.controlPlaneName,
    admin: true,
    setup: [setPodCidrFunction()],
    body: [`wait_for_node ${node}`, `set_pod_cidr ${node} ${shellQuote(input.podCidr)}`, `wait_ready ${node}`],
  });
}

/**
 * Drains a worker and deletes its Node when the worker leaves the stack, best effort: an
 * API server that does not answer is reported, not fatal. (The stack skips this step
 * altogether when the control plane goes too, and bounds its SSH dial: bootstrap.ts.)
 */
export function drainNodeScript(input: { controlPlaneName: string; nodeName: string }): string {
  return bashScript({
    step: "drain",
    node: input.controlPlaneName,
    admin: true,
    setup: [`TARGET=${shellQuote(input.nodeName)}`],
    body: [
      `if [[ ! -f ${ADMIN_KUBECONFIG} ]]; then log "no admin.conf; nothing to drain"; exit 0; fi`,
      'if ! out=$(kubectl get node "$TARGET" -o name --request-timeout=20s 2>&1); then',
      '  if [[ "$out" == *NotFound* ]]; then log "Node $TARGET is not in the cluster"; exit 0; fi',
      '  log "warning: cannot reach the API server ($out); Node $TARGET not drained"',
      "  exit 0",
      "fi",
      'log "draining $TARGET"',
      'kubectl drain "$TARGET" --ignore-daemonsets --delete-emptydir-data --force --timeout=120s >&2 || log "warning: drain of $TARGET did not finish; deleting the Node anyway"',
      'kubectl delete node "$TARGET" --ignore-not-found --request-timeout=30s >&2 || { log "warning: Node $TARGET not deleted"; exit 0; }',
      'log "Node $TARGET deleted"',
    ],
  });
}

/** A node's SSH host key pair, OpenSSH formats (as @pulumi/tls gives them). */
export interface HostKeyPair {
  readonly privateKeyOpenssh: string;
  /** authorized_keys format: "ssh-ed25519 AAAA...". */
  readonly publicKeyOpenssh: string;
}

/**
 * cloud-init user data: the plan name as hostname, and the SSH host key the stack pins in
 * every connection (cloud-init's ssh module writes it and deletes any other). Values are
 * JSON-quoted, which YAML reads as the same strings. Everything else is in the image.
 */
export function renderUserData(nodeName: string, hostKey: HostKeyPair): string {
  return [
    "#cloud-config",
    `hostname: ${nodeName}`,
    "preserve_hostname: false",
    "manage_etc_hosts: true",
    "ssh_deletekeys: true",
    "ssh_keys:",
    `  ed25519_private: ${JSON.stringify(hostKey.privateKeyOpenssh)}`,
    `  ed25519_public: ${JSON.stringify(hostKey.publicKeyOpenssh.trim())}`,
    "",
  ].join("\n");
}
