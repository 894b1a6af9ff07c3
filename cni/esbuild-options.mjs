// The esbuild options every podnet bundle shares: the plugin (build.mjs), the lab's agent
// (lab/agents.ts) and the verifier the stack sends to the control plane (verify/remote.ts).
// Each is one self-contained CommonJS file that Node (or Bun) runs with no node_modules.
// Callers add their entry point, output and target (the Node version that runs the bundle).

/** @see esbuild-options.d.mts for the types. */
export const NODE_BUNDLE = Object.freeze({
  bundle: true,
  platform: "node",
  format: "cjs",
  legalComments: "none",
  logLevel: "error",
});
