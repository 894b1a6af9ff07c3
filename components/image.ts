// How node images are named and tagged. The Packer template names its AMIs this way
// and the stack finds them by the same pattern (test/packer.test.ts keeps them in step).

/** Kubernetes minor version baked into the image and deployed by the stack by default. */
export const DEFAULT_KUBERNETES_MINOR = "1.35";
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
