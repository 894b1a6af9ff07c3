// FNV-1a/64: a stable short digest for names and fingerprints. Not node:crypto, whose
// loading alone costs a few ms on every plugin call.
export function fnv1a64(text: string): string {
  let hash = 0xcbf29ce484222325n;
  for (const byte of Buffer.from(text)) {
    hash = ((hash ^ BigInt(byte)) * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return hash.toString(16).padStart(16, "0");
}
