// FNV-1a/64 on 32-bit halves must give the published digests: veth names and node
// fingerprints of pods made by earlier builds depend on it.
import assert from "node:assert/strict";
import { fnv1a64 } from "../cni/hash";

/** The textbook definition, on BigInt. */
function reference(text: string): string {
  let hash = 0xcbf29ce484222325n;
  for (const byte of Buffer.from(text)) hash = ((hash ^ BigInt(byte)) * 0x100000001b3n) & 0xffffffffffffffffn;
  return hash.toString(16).padStart(16, "0");
}

describe("fnv1a64 (cni/hash.ts)", function () {
  it("gives the published FNV-1a/64 test vectors", function () {
    assert.equal(fnv1a64(""), "cbf29ce484222325");
    assert.equal(fnv1a64("a"), "af63dc4c8601ec8c");
    assert.equal(fnv1a64("foobar"), "85944171f73967e8");
  });

  it("agrees with the BigInt definition on long, multi-byte and carry-heavy inputs", function () {
    const inputs = [
      "ctr1\neth0",
      "é漢字🙂".repeat(50),
      "\xff".repeat(1000),
      Array.from({ length: 300 }, (_, i) => String.fromCharCode(i)).join(""),
    ];
    for (let i = 0; i < 200; i++) inputs.push(`${i}`.repeat(i));
    for (const text of inputs) assert.equal(fnv1a64(text), reference(text), JSON.stringify(text.slice(0, 20)));
  });
});
