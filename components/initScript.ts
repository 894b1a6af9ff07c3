// The control plane's init script: kubeadm init once, finished if an earlier run stopped
// part-way, and safe to run again on a working cluster.
//
// kubeadm init runs its phases in order: preflight, certs, kubeconfig (admin.conf appears),
// etcd, control-plane, kubelet-start, wait-control-plane (the API server answers), then
// upload-config, mark-control-plane, bootstrap-token (cluster-info), kubelet-finalize and
// addon (CoreDNS, kube-proxy). admin.conf plus a healthy API server therefore proves only
// the first half; the cluster is initialised when the last phases' artefacts are there.
import { INIT_TOKEN_DESCRIPTION } from "./kubeadm";
import {
  ADMIN_KUBECONFIG,
  bashScript,
  heredoc,
  KUBEADM_CONFIG_DIR,
  KUBERNETES_VERSION_PLACEHOLDER,
  setPodCidrFunction,
  shellQuote,
} from "./scripts";

/** Written once init has completed here: from then on the script never resets this node. */
export const INIT_DONE_MARKER = `${KUBEADM_CONFIG_DIR}/init-done`;
/**
 * The same evidence where init completed but the marker was never written (the script stopped
 * after kubeadm init): init's kubelet-finalize phase, next to last, points kubelet.conf at the
 * rotated client certificate.
 */
const KUBELET_FINALIZED = "grep -qs 'kubelet-client-current.pem' /etc/kubernetes/kubelet.conf";

/** What kubeadm init leaves behind in its last phases, as `kubectl get` arguments, in phase order. */
export const INIT_ARTEFACTS: ReadonlyArray<readonly [phase: string, args: string]> = [
  ["upload-config", "-n kube-system configmap kubeadm-config"],
  ["upload-config", "-n kube-system configmap kubelet-config"],
  ["bootstrap-token", "-n kube-public configmap cluster-info"],
  ["addon", "-n kube-system deployment coredns"],
  ["addon", "-n kube-system daemonset kube-proxy"],
];

/** The phases after the API server is up, as `kubeadm init phase` runs them to finish a partial init. */
export const FINISHING_PHASES = [
  "upload-config all",
  "mark-control-plane",
  "bootstrap-token --skip-token-print",
  "kubelet-finalize all",
  "addon all",
];

/** Files an init that got anywhere leaves; kubeadm init refuses to start over them. */
const INIT_LEFTOVERS = [
  ADMIN_KUBECONFIG,
  "/etc/kubernetes/manifests/kube-apiserver.yaml",
  "/etc/kubernetes/pki/ca.crt",
  "/var/lib/etcd/member",
];

function apiFunctions(): string {
  return [
    "api_answers() {",
    "  local i",
    "  for i in $(seq 1 60); do",
    "    kubectl get --raw=/readyz >/dev/null 2>&1 && return 0",
    '    [[ $i -eq 1 ]] && log "waiting up to 5 minutes for the API server"',
    "    sleep 5",
    "  done",
    "  return 1",
    "}",
    "missing_artefacts() {",
    ...INIT_ARTEFACTS.map(
      ([, args]) =>
        `  kubectl get ${args} -o name >/dev/null 2>&1 || echo ${shellQuote(args.replace(/^-n (\S+) (\S+) (\S+)$/, "$2 $1/$3"))}`,
    ),
    '  kubectl get nodes -l node-role.kubernetes.io/control-plane -o name 2>/dev/null | grep -qx "node/$NODE" || echo "the control-plane label on Node $NODE"',
    "}",
  ].join("\n");
}

function initFunctions(): string {
  return [
    "fresh_init() {",
    `  if ${INIT_LEFTOVERS.map((f) => `[[ -e ${f} ]]`).join(" || ")}; then`,
    '    log "an earlier kubeadm init stopped before the API server answered; kubeadm reset before starting again"',
    "    kubeadm reset --force >&2",
    "  fi",
    '  log "kubeadm init (kubernetes $version) with $CONFIG"',
    '  cat "$CONFIG" >&2',
    '  kubeadm init --config "$CONFIG" --skip-token-print >&2',
    "}",
    "finish_or_skip() {",
    "  local missing",
    "  missing=$(missing_artefacts)",
    '  if [[ -z "$missing" ]]; then log "cluster already initialised; kubeadm init skipped"; return 0; fi',
    '  log "kubeadm init stopped part-way (missing: $(paste -sd, <<<"$missing")); running its last phases again"',
    ...FINISHING_PHASES.map((phase) => `  kubeadm init phase ${phase} --config "$CONFIG" >&2`),
    "}",
    // init's own token has done its job once the phases ran: workers get their own.
    "delete_init_tokens() {",
    "  local tokens name description",
    '  tokens=$(kubectl -n kube-system get secrets --field-selector type=bootstrap.kubernetes.io/token -o jsonpath=\'{range .items[*]}{.metadata.name}{" "}{.data.description}{"\\n"}{end}\')',
    "  while read -r name description; do",
    '    [[ -n "$name" && "$description" == "$INIT_TOKEN_DESCRIPTION_B64" ]] || continue',
    '    kubectl -n kube-system delete secret "$name" --ignore-not-found >&2',
    '    log "deleted kubeadm init\'s bootstrap token ${name#bootstrap-token-}"',
    '  done <<<"$tokens"',
    "}",
  ].join("\n");
}

/**
 * kubeadm init on the control plane from the rendered config, then the control plane's own
 * spec.podCIDR. Three cases: init completed here before, or got as far as kubelet-finalize
 * (never reset: a silent API server is an error to look at); the API server answers
 * (finish whatever phases are missing, or skip); otherwise no cluster ever came up here
 * (reset what an earlier try left, init).
 */
export function kubeadmInitScript(input: { nodeName: string; kubeadmConfig: string; podCidr: string }): string {
  return bashScript({
    step: "init",
    node: input.nodeName,
    admin: true,
    setup: [
      `CONFIG=${KUBEADM_CONFIG_DIR}/kubeadm-init.yaml`,
      `DONE=${INIT_DONE_MARKER}`,
      `INIT_TOKEN_DESCRIPTION_B64=${shellQuote(Buffer.from(INIT_TOKEN_DESCRIPTION, "utf8").toString("base64"))}`,
      setPodCidrFunction(),
      apiFunctions(),
      initFunctions(),
    ],
    body: [
      `install -d -m 0700 ${KUBEADM_CONFIG_DIR}`,
      heredoc('cat >"$CONFIG.template"', "PODNET_KUBEADM", input.kubeadmConfig),
      "version=$(kubeadm version -o short)",
      `sed "s/${KUBERNETES_VERSION_PLACEHOLDER}/$version/" "$CONFIG.template" >"$CONFIG"`,
      'rm -f "$CONFIG.template"',
      `if [[ -f "$DONE" ]] || ${KUBELET_FINALIZED}; then`,
      `  api_answers || fail "kubeadm init completed on this node before, but the API server does not answer; find out why (journalctl -u kubelet, crictl ps -a) or start a new cluster: pulumi up --replace <control-plane instance URN>"`,
      "  finish_or_skip",
      `elif [[ -f ${ADMIN_KUBECONFIG} ]] && api_answers; then`,
      "  finish_or_skip",
      "else",
      "  fresh_init",
      "fi",
      "delete_init_tokens",
      'touch "$DONE"',
      'wait_for_node "$NODE"',
      `set_pod_cidr "$NODE" ${shellQuote(input.podCidr)}`,
      'wait_ready "$NODE"',
    ],
  });
}
