// Sealing for command output that must stay secret (the admin kubeconfig, join lines).
//
// @pulumi/command can keep such output out of the log stream (`logging: "stderr"`) and
// encrypted in the state (additionalSecretOutputs: ["stdout"]); the stack sets both. But
// when a command fails, the provider's error quotes everything the command printed,
// stdout included, whatever `logging` says (pulumi-command remote/commandOutputs.go), and
// the engine masks only stack-config secrets in it. A session cut after the kubeconfig
// was printed would put it in clear in the terminal and the CI log. So the node encrypts
// it first: AES-256-CBC under a fresh random key, that key wrapped with RSA-OAEP (SHA-256)
// for a key pair only the stack holds (@pulumi/tls, a secret in the state). The script
// side is sealFunction in scripts.ts (openssl on the node); this file is the stack side,
// plus a Node.js sealer the tests use.
import * as crypto from "node:crypto";

export const SEALED_PREFIX = "podnet-sealed:v1:";

function parse(stdout: string): { wrapped: Buffer; body: Buffer } {
  const line = stdout.split("\n").find((l) => l.startsWith(SEALED_PREFIX));
  if (!line) throw new Error("the command printed no sealed output; see its log for the error");
  const [wrapped, body, ...rest] = line.slice(SEALED_PREFIX.length).trim().split(":");
  if (!wrapped || body === undefined || rest.length > 0) throw new Error("malformed sealed output");
  return { wrapped: Buffer.from(wrapped, "base64"), body: Buffer.from(body, "base64") };
}

/** Opens what the node's seal() printed, with the stack's private key (PEM). */
export function unseal(stdout: string, privateKeyPem: string): string {
  const { wrapped, body } = parse(stdout);
  const keyHex = crypto
    .privateDecrypt(
      { key: privateKeyPem, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha256" },
      wrapped,
    )
    .toString("ascii");
  if (!/^[0-9a-f]{96}$/.test(keyHex)) throw new Error("malformed sealed key");
  const decipher = crypto.createDecipheriv(
    "aes-256-cbc",
    Buffer.from(keyHex.slice(0, 64), "hex"),
    Buffer.from(keyHex.slice(64), "hex"),
  );
  return Buffer.concat([decipher.update(body), decipher.final()]).toString("utf8");
}

/** The same format as the node's seal(), in Node.js: for tests and mocks. */
export function seal(plaintext: string, publicKeyPem: string): string {
  const key = crypto.randomBytes(32);
  const iv = crypto.randomBytes(16);
  const wrapped = crypto.publicEncrypt(
    { key: publicKeyPem, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha256" },
    Buffer.from(key.toString("hex") + iv.toString("hex"), "ascii"),
  );
  const cipher = crypto.createCipheriv("aes-256-cbc", key, iv);
  const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
  return `${SEALED_PREFIX}${wrapped.toString("base64")}:${body.toString("base64")}\n`;
}
