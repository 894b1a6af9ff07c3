// FNV-1a/64: a stable short digest for names and fingerprints. Not node:crypto, whose
// loading alone costs a few ms on every plugin call; and not BigInt, whose arithmetic
// costs Bun's interpreter about half a millisecond for a node fingerprint's text. The
// 64-bit state is two 32-bit halves.
const PRIME_LOW = 0x1b3; // the FNV-64 prime is 2^40 + 0x1b3
const TWO_32 = 0x100000000;

export function fnv1a64(text: string): string {
  let hi = 0xcbf29ce4;
  let lo = 0x84222325;
  // An indexed loop: iterating a Buffer is several times slower before the JIT warms up.
  const bytes = new TextEncoder().encode(text);
  for (let i = 0; i < bytes.length; i++) {
    lo = (lo ^ bytes[i]) >>> 0;
    // h * prime = h * 0x1b3 + (h << 40), modulo 2^64.
    const low = lo * PRIME_LOW;
    hi = (Math.imul(hi, PRIME_LOW) + Math.floor(low / TWO_32) + (lo << 8)) >>> 0;
    lo = low >>> 0;
  }
  return hi.toString(16).padStart(8, "0") + lo.toString(16).padStart(8, "0");
}
