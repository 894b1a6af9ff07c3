// Types for esbuild-options.mjs, which cni/build.mjs runs as plain JavaScript.

/** The options every podnet bundle shares; literal types, so esbuild's result types follow them. */
export declare const NODE_BUNDLE: {
  readonly bundle: true;
  readonly platform: "node";
  readonly format: "cjs";
  readonly legalComments: "none";
  readonly logLevel: "error";
};
