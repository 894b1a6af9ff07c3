// Bundles the plugin into one executable file, dist/podnet, with no runtime dependencies:
// cni/main.ts and what it imports, run by the pinned Bun through the shebang of
// cni/runtime.ts (package.json optionalDependencies; packer/scripts/50-bun.sh on nodes).

import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { makeOutputDir, writeOutput } from "./build-output.mjs";
import { NODE_BUNDLE } from "./esbuild-options.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const outfile = join(root, "dist", "podnet");
// A build's warnings are for whoever builds.
const common = { ...NODE_BUNDLE, logLevel: "warning" };

// cni/runtime.ts is TypeScript: esbuild compiles it and Node imports the result.
const runtime = await build({ ...common, entryPoints: [join(root, "cni", "runtime.ts")], format: "esm", write: false });
const { SHEBANG, SHEBANG_MAX } = await import(
  `data:text/javascript;base64,${Buffer.from(runtime.outputFiles[0].text).toString("base64")}`
);
if (SHEBANG.length > SHEBANG_MAX) throw new Error(`the shebang is ${SHEBANG.length} bytes; Linux reads ${SHEBANG_MAX}`);

const CJS_OPEN =
  '((f) => (typeof Bun > "u" && f(exports, require, module, __filename, __dirname), f))(function (exports, require, module, __filename, __dirname) {';
const CJS_CLOSE = "})";

const bundle = await build({
  ...common,
  entryPoints: [join(root, "cni", "main.ts")],
  outfile,
  write: false,
  target: "node20",
  // Smaller to parse at every call; identifiers stay readable in stack traces.
  minifyWhitespace: true,
  minifySyntax: true,
  // Bun's own modules (bun:ffi for cni/netlink.ts) are the runtime's, loaded only under Bun.
  external: ["bun:*"],
  // `// @bun @bun-cjs`: Bun runs the file as it is instead of transpiling all of it again
  // at every call (about 2.3 ms; its transpiler cache needs a HOME, which the shebang's
  // `env -i` drops). The file's value is the CommonJS wrapper Bun calls; Node calls it here.
  banner: { js: `${SHEBANG}\n// @bun @bun-cjs\n${CJS_OPEN}` },
  footer: { js: CJS_CLOSE },
});
makeOutputDir(dirname(outfile), root);
try {
  writeOutput(outfile, bundle.outputFiles[0].contents, 0o755, root);
} catch (e) {
  console.error(`build: ${e.message}`);
  process.exit(1);
}
console.log(`built ${outfile}`);
