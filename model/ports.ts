// Well-known ports the stack opens and the lab listens on, written once.

/** sshd on every node. */
export const SSH_PORT = 22;
/** kube-apiserver's secure port (kubeadm's bindPort and the controlPlaneEndpoint). */
export const API_SERVER_PORT = 6443;
/** DNS, which cluster DNS serves over UDP. */
export const DNS_PORT = 53;
