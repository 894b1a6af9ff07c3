// How node images are named and tagged. The Packer template names its AMIs this way
// and the stack finds them by the same pattern (test/packer.test.ts keeps them in step).

/** Kubernetes minor version baked into the image and deployed by the stack by default. */
export const DEFAULT_KUBERNETES_MINOR = "1.35";
/**
 * The Kubernetes minors the image and the stack support, both ends included: those that
 * containerd's support matrix (RELEASES.md, "Kubernetes Support") pairs with a containerd 2
 * release, which is what the image installs (Ubuntu 24.04's containerd 2.2; 30-containerd.sh
 * refuses 1.x). 1.37 is in no row yet. The kubeadm renderer covers all of them (v1beta4 from
 * 1.31). packer/variables.pkr.hcl checks the same range (test/pulumi-settings.test.ts keeps
 * them in step).
 */
export const KUBERNETES_MINORS = { lowest: 32, highest: 36 } as const;
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
