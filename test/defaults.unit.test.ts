// The default network has one home, model/defaults.ts: Pulumi.yaml declares the same values, the
// stack's settings fall back to them, and the module stays pure so the lab can import it.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseConfig } from "../components/config";
import { NETWORK_DEFAULTS } from "../model/defaults";

const yaml = require("js-yaml") as { load(text: string): unknown };

describe("network defaults (model/defaults.ts)", () => {
  it("are the defaults Pulumi.yaml declares, key by key and with the declared type", () => {
    const project = yaml.load(readFileSync(join(__dirname, "..", "Pulumi.yaml"), "utf8")) as {
      config: Record<string, { type: string; default?: unknown }>;
    };
    for (const [key, value] of Object.entries(NETWORK_DEFAULTS)) {
      const declared = project.config[key];
      assert.ok(declared, `Pulumi.yaml declares no podnet:${key}`);
      assert.equal(declared.type, typeof value === "number" ? "integer" : "string", key);
      assert.equal(declared.default, value, `Pulumi.yaml's default for podnet:${key}`);
    }
  });

  it("are what the stack's settings hold when none of them is set", () => {
    const config = parseConfig((key) => (key === "adminCidrs" ? "203.0.113.7/32" : undefined));
    for (const [key, value] of Object.entries(NETWORK_DEFAULTS)) {
      assert.equal(config[key as keyof typeof NETWORK_DEFAULTS], value, key);
    }
  });

  it("import nothing, so the lab reads them without @pulumi/pulumi", () => {
    const source = readFileSync(join(__dirname, "..", "model", "defaults.ts"), "utf8");
    assert.doesNotMatch(source, /^\s*(import|export .* from)\b/m);
  });
});
