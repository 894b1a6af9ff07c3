// How node images are named and tagged. The Packer template names its AMIs this way
// and the stack finds them by the same pattern (test/packer.test.ts keeps them in step).

/** Kubernetes minor version baked into the image and deployed by the stack by default. */
export const DEFAULT_KUBERNETES_MINOR = "1.35";
/**
 * The Kubernetes minors the image and the stack support, both ends included. The lowest is
 * the oldest minor pkgs.k8s.io publishes (packer/scripts/20-kubernetes.sh installs from it;
 * the kubeadm renderer's v1beta3 config goes back further, to 1.22). The highest is the last
 * minor Ubuntu 24.04's containerd 1.7 can run: 1.36 needs containerd 2
 * (packer/scripts/30-containerd.sh refuses it). packer/variables.pkr.hcl checks the same
 * range (test/pulumi-settings.test.ts keeps them in step).
 */
export const KUBERNETES_MINORS = { lowest: 24, highest: 35 } as const;
/** AWS architecture names, as in the AMI's `architecture` attribute. */
export type ImageArch = "x86_64" | "arm64";
export const DEFAULT_IMAGE_ARCH: ImageArch = "x86_64";

export const AMI_NAME_PREFIX = "podnet-node";
export const AMI_TAG_KUBERNETES_VERSION = "podnet:kubernetes-version";
export const AMI_TAG_PLUGIN_SHA256 = "podnet:plugin-sha256";
export const AMI_TAG_ARCH = "podnet:arch";

/** Name filter for aws.ec2.getAmi: every image Packer made for this version and arch. */
export function amiNameFilter(kubernetesMinor: string, arch: ImageArch): string {
  return `${AMI_NAME_PREFIX}-k8s-${kubernetesMinor}-${arch}-*`;
}
