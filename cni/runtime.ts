// How dist/podnet is started: the shebang build.mjs writes. One place for the runtime's
// location on a node and for the variables that reach the plugin.

/** Where the image installs the pinned Bun (packer variable bun_dir): searched first. */
export const NODE_RUNTIME_DIR = "/opt/podnet/bin";

/**
 * The only variables the plugin sees: what the CNI spec passes, and PATH. Runtimes hand
 * plugins their whole environment, and Bun obeys dozens of variables (BUN_OPTIONS can
 * preload code, BUN_INSPECT opens a debugger, BUN_JSC_* tune the engine; NODE_OPTIONS and
 * NODE_EXTRA_CA_CERTS come along from a Node-hosted caller): `env -i` drops them all
 * rather than naming each. An unset variable arrives empty, which the plugin treats alike.
 */
export const PLUGIN_ENV = [
  "CNI_COMMAND",
  "CNI_CONTAINERID",
  "CNI_NETNS",
  "CNI_IFNAME",
  "CNI_ARGS",
  "CNI_PATH",
] as const;

/**
 * The pinned Bun from NODE_RUNTIME_DIR, else the first `bun` on the caller's PATH (the
 * tests and the lab put the one from node_modules there). --no-env-file and
 * --config=/dev/null: Bun would otherwise load .env files and bunfig.toml (whose
 * `preload` runs code) from whatever directory the runtime calls the plugin in.
 */
export const SHEBANG =
  `#!/usr/bin/env -S -i PATH=${NODE_RUNTIME_DIR}:\${PATH} ${PLUGIN_ENV.map((v) => `${v}=\${${v}}`).join(" ")} ` +
  "bun --no-env-file --config=/dev/null";

/** Linux reads at most this much of a #! line and silently cuts the rest. */
export const SHEBANG_MAX = 255;
