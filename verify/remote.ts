// The verification shipped to the control plane: verify/node.ts bundled by esbuild into one
// plain-JS file (node 18, the image's), sent on the SSH session's stdin, and a short POSIX
// sh command that saves it to a private temp dir and runs it as root with the admin
// kubeconfig. The command text holds no secret and stays short: the command provider
// quotes it whole in the error when the command fails.
import { createHash } from "node:crypto";
import { join } from "node:path";
import { buildSync } from "esbuild";
import { NODE_BUNDLE } from "../cni/esbuild-options.mjs";
import { ADMIN_KUBECONFIG } from "../components/scripts";
import type { FailMode } from "./node";

let cached: string | undefined;

/**
 * verify/node.ts and everything it imports, as one CommonJS file. Paths in it are relative to
 * the repository whatever the working directory, so the same sources give the same bundle
 * (the command's stdin): no spurious re-run.
 */
export function buildVerifierBundle(): string {
  const result = buildSync({
    ...NODE_BUNDLE,
    entryPoints: [join(__dirname, "node.ts")],
    absWorkingDir: join(__dirname, ".."),
    target: "node18",
    write: false,
  });
  const file = result.outputFiles[0];
  if (!file) throw new Error("esbuild wrote no verifier bundle");
  return file.text;
}

/** The bundle, built once per process. */
export function verifierBundle(): string {
  cached ??= buildVerifierBundle();
  return cached;
}

/** The bundle's digest, to tell in logs which verifier ran. */
export function bundleDigest(bundle: string): string {
  return createHash("sha256").update(bundle).digest("hex").slice(0, 12);
}

export interface RemoteInput {
  readonly mode: FailMode;
  /** Node name -> public IP: the internet row's expectation. */
  readonly publicIps: ReadonlyArray<readonly [string, string]>;
  /** Where admin.conf is on the control plane. */
  readonly kubeconfig?: string;
  /** kubectl exec calls at once (the verifier's default when absent). */
  readonly parallel?: number;
  /** Leave the namespace for inspection. */
  readonly keep?: boolean;
  /** Print the table with every column. */
  readonly wide?: boolean;
}

const SAFE = /^[A-Za-z0-9._=/-]+$/;

function word(value: string, what: string): string {
  if (!SAFE.test(value))
    throw new Error(
      `${what} ${JSON.stringify(value)} cannot be passed to the verifier (letters, digits and . _ = / - only)`,
    );
  return value;
}

/** The command run over SSH; the bundle arrives on its stdin. */
export function remoteVerifyCommand(input: RemoteInput): string {
  const args = [
    `--kubeconfig ${word(input.kubeconfig ?? ADMIN_KUBECONFIG, "kubeconfig path")}`,
    `--mode ${word(input.mode, "mode")}`,
    ...input.publicIps.map(([node, ip]) => `--public-ip ${word(`${node}=${ip}`, "public IP")}`),
    ...(input.parallel !== undefined ? [`--parallel ${word(String(input.parallel), "parallel")}`] : []),
    ...(input.keep ? ["--keep"] : []),
    ...(input.wide ? ["--wide"] : []),
  ];
  return [
    "# shellcheck shell=sh",
    "set -eu",
    "dir=$(mktemp -d /tmp/podnet-verify.XXXXXX)",
    "trap 'rm -rf \"$dir\"' EXIT",
    'cat >"$dir/verify.js"',
    `sudo node "$dir/verify.js" ${args.join(" ")}`,
    "",
  ].join("\n");
}
