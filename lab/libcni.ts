// A small container-runtime side of CNI: it executes a conflist the way libcni
// (containerd, CRI-O, podman) does, so the lab drives the real plugin binaries exactly as
// a node's runtime would:
//   - the plugin binary is looked up by its "type" in the CNI_PATH directories and run
//     with CNI_COMMAND/CNI_CONTAINERID/CNI_NETNS/CNI_IFNAME/CNI_ARGS/CNI_PATH in its env
//     and its own config on stdin, inside the node's network namespace (where the
//     runtime lives), while CNI_NETNS names the pod's namespace;
//   - each plugin's config gets the list's "name" and "cniVersion" injected, plus
//     "runtimeConfig" for the capabilities it declares and "prevResult";
//   - ADD runs the plugins in order, each receiving the previous plugin's result; the
//     last result is cached on disk (libcni's /var/lib/cni/results);
//   - DEL runs them in reverse order with the cached result as prevResult, then drops
//     the cache; CHECK runs them in order with the cached result;
//   - VERSION validates that every plugin speaks the list's version.
import { accessSync, appendFileSync, constants, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { onNode, run } from "./sh";

/** The PATH a runtime such as containerd (run by systemd) hands plugins. */
export const RUNTIME_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

export type Verb = "ADD" | "DEL" | "CHECK" | "VERSION";

export interface PluginConf {
  type: string;
  capabilities?: Record<string, boolean>;
  [key: string]: unknown;
}

export interface NetworkList {
  cniVersion: string;
  cniVersions?: string[];
  name: string;
  plugins: PluginConf[];
}

export interface RuntimeConf {
  containerId: string;
  /** Path of the pod's network namespace (CNI_NETNS). */
  netns: string;
  ifname: string;
  /** CNI_ARGS pairs, e.g. K8S_POD_NAME; kubelet always sends IgnoreUnknown=1 first. */
  args: ReadonlyArray<readonly [string, string]>;
  /** Capability arguments (e.g. portMappings), passed only to plugins that declare them. */
  capabilityArgs: Record<string, unknown>;
}

export interface CniResult {
  cniVersion: string;
  interfaces?: Array<{ name: string; mac?: string; sandbox?: string }>;
  ips?: Array<{ address: string; gateway?: string; interface?: number }>;
  routes?: Array<{ dst: string; gw?: string }>;
  [key: string]: unknown;
}

export interface PluginCall {
  plugin: string;
  verb: Verb;
  ms: number;
}

export class CniCallError extends Error {
  constructor(
    readonly plugin: string,
    readonly verb: Verb,
    readonly code: number | undefined,
    readonly msg: string,
    readonly details: string,
  ) {
    super(
      `${plugin} ${verb} failed${code !== undefined ? ` (CNI error ${code})` : ""}: ${msg}${details ? ` (${details})` : ""}`,
    );
  }
}

export interface RuntimeOptions {
  /** CNI_PATH: directories searched for plugin binaries. */
  readonly binDirs: readonly string[];
  /** Where ADD results are cached for DEL/CHECK. */
  readonly cacheDir: string;
  /** The network namespace the runtime (and so each plugin process) runs in: the node. */
  readonly runtimeNetns: string;
  /**
   * The newest CNI version this runtime speaks. Debian's libcni (podman, containerd 1.6)
   * stops at 1.0.0 and ignores "cniVersions"; newer ones pick the newest listed version
   * they support.
   */
  readonly maxVersion: string;
  /** The runtime's own environment beyond PATH, which plugins inherit as from any runtime. */
  readonly env?: Readonly<Record<string, string>>;
  /** Appends one JSON line per plugin call (what was sent, how it ended): a failed lab keeps it. */
  readonly callLog?: string;
}

function compareVersions(a: string, b: string): number {
  const pa = a.split(".").map(Number);
  const pb = b.split(".").map(Number);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}

export function parseNetworkList(json: string, source: string): NetworkList {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (e) {
    throw new Error(`${source}: not valid JSON: ${(e as Error).message}`);
  }
  const list = raw as Partial<NetworkList>;
  if (!list || typeof list !== "object") throw new Error(`${source}: not a JSON object`);
  if (typeof list.name !== "string" || !list.name) throw new Error(`${source}: "name" is missing`);
  if (typeof list.cniVersion !== "string") throw new Error(`${source}: "cniVersion" is missing`);
  if (!Array.isArray(list.plugins) || list.plugins.length === 0) throw new Error(`${source}: "plugins" is empty`);
  for (const [i, p] of list.plugins.entries()) {
    if (!p || typeof p.type !== "string") throw new Error(`${source}: plugins[${i}] has no "type"`);
  }
  return list as NetworkList;
}

export class CniRuntime {
  readonly calls: PluginCall[] = [];

  constructor(readonly options: RuntimeOptions) {}

  /** The version the list is executed with. */
  effectiveVersion(list: NetworkList): string {
    const usable = (list.cniVersions ?? [])
      .filter((v) => compareVersions(v, this.options.maxVersion) <= 0)
      .sort(compareVersions);
    return usable.length > 0 ? usable[usable.length - 1] : list.cniVersion;
  }

  findPlugin(type: string): string {
    for (const dir of this.options.binDirs) {
      const path = join(dir, type);
      try {
        accessSync(path, constants.X_OK);
        return path;
      } catch {
        // try the next directory
      }
    }
    throw new CniCallError(
      type,
      "ADD",
      undefined,
      `failed to find plugin "${type}" in path [${this.options.binDirs.join(" ")}]`,
      "",
    );
  }

  /** The config one plugin gets on stdin: its own entry plus what libcni injects. */
  pluginConfig(
    list: NetworkList,
    plugin: PluginConf,
    rt: RuntimeConf | undefined,
    prevResult: CniResult | undefined,
  ): Record<string, unknown> {
    const conf: Record<string, unknown> = { ...plugin, name: list.name, cniVersion: this.effectiveVersion(list) };
    if (rt && plugin.capabilities) {
      const runtimeConfig: Record<string, unknown> = {};
      for (const [capability, enabled] of Object.entries(plugin.capabilities)) {
        if (enabled && rt.capabilityArgs[capability] !== undefined)
          runtimeConfig[capability] = rt.capabilityArgs[capability];
      }
      if (Object.keys(runtimeConfig).length > 0) conf.runtimeConfig = runtimeConfig;
    }
    if (prevResult) conf.prevResult = prevResult;
    return conf;
  }

  private async exec(
    verb: Verb,
    plugin: PluginConf,
    stdin: Record<string, unknown>,
    rt: RuntimeConf | undefined,
  ): Promise<string> {
    const path = this.findPlugin(plugin.type);
    const env: NodeJS.ProcessEnv = {
      // A runtime's own environment; the plugin must find ip/iptables through PATH alone.
      PATH: RUNTIME_PATH,
      CNI_COMMAND: verb,
      CNI_PATH: this.options.binDirs.join(":"),
      ...this.options.env,
    };
    if (rt) {
      env.CNI_CONTAINERID = rt.containerId;
      env.CNI_NETNS = rt.netns;
      env.CNI_IFNAME = rt.ifname;
      env.CNI_ARGS = rt.args.map(([k, v]) => `${k}=${v}`).join(";");
    }
    const started = Date.now();
    const ran = await run(onNode(this.options.runtimeNetns, [path]), {
      input: JSON.stringify(stdin),
      env,
      timeoutMs: 30_000,
    });
    this.calls.push({ plugin: plugin.type, verb, ms: Date.now() - started });
    if (this.options.callLog) {
      const call = {
        time: new Date(started).toISOString(),
        verb,
        plugin: plugin.type,
        containerId: rt?.containerId,
        ifname: rt?.ifname,
        netns: rt?.netns,
      };
      const outcome = ran.status === 0 ? { status: 0 } : { status: ran.status, stdout: ran.stdout, stderr: ran.stderr };
      appendFileSync(
        this.options.callLog,
        `${JSON.stringify({ ...call, ms: Date.now() - started, ...outcome, stdin })}\n`,
      );
    }
    if (ran.status !== 0) {
      let code: number | undefined;
      let msg = ran.stderr.trim() || `exit ${ran.status}`;
      let details = "";
      try {
        const err = JSON.parse(ran.stdout) as { code?: number; msg?: string; details?: string };
        code = err.code;
        msg = err.msg ?? msg;
        details = err.details ?? "";
      } catch {
        // not a CNI error object: report stderr
      }
      throw new CniCallError(plugin.type, verb, code, msg, details);
    }
    return ran.stdout;
  }

  private cachePath(list: NetworkList, rt: RuntimeConf): string {
    return join(this.options.cacheDir, "results", `${list.name}-${rt.containerId}-${rt.ifname}`);
  }

  cachedResult(list: NetworkList, rt: RuntimeConf): CniResult | undefined {
    try {
      return (JSON.parse(readFileSync(this.cachePath(list, rt), "utf8")) as { result: CniResult }).result;
    } catch {
      return undefined;
    }
  }

  /** VERSION on every plugin: each must support the version the list is executed with. */
  async validate(list: NetworkList): Promise<Array<{ plugin: string; supported: string[] }>> {
    const version = this.effectiveVersion(list);
    const out: Array<{ plugin: string; supported: string[] }> = [];
    for (const plugin of list.plugins) {
      const stdout = await this.exec("VERSION", plugin, { cniVersion: version }, undefined);
      const supported = (JSON.parse(stdout) as { supportedVersions?: string[] }).supportedVersions ?? [];
      if (!supported.includes(version)) {
        throw new CniCallError(
          plugin.type,
          "VERSION",
          undefined,
          `does not support cniVersion ${version}`,
          `it supports ${supported.join(", ")}`,
        );
      }
      out.push({ plugin: plugin.type, supported });
    }
    return out;
  }

  async add(list: NetworkList, rt: RuntimeConf): Promise<CniResult> {
    let prev: CniResult | undefined;
    for (const plugin of list.plugins) {
      const stdout = await this.exec("ADD", plugin, this.pluginConfig(list, plugin, rt, prev), rt);
      try {
        prev = JSON.parse(stdout) as CniResult;
      } catch {
        throw new CniCallError(plugin.type, "ADD", undefined, "printed no JSON result", stdout.slice(0, 200));
      }
    }
    if (!prev) throw new Error("empty plugin list");
    const path = this.cachePath(list, rt);
    mkdirSync(join(this.options.cacheDir, "results"), { recursive: true });
    writeFileSync(
      path,
      JSON.stringify({
        kind: "cniCacheV1",
        containerId: rt.containerId,
        ifName: rt.ifname,
        networkName: list.name,
        cniArgs: rt.args,
        capabilityArgs: rt.capabilityArgs,
        result: prev,
      }),
    );
    return prev;
  }

  async check(list: NetworkList, rt: RuntimeConf): Promise<void> {
    const cached = this.cachedResult(list, rt);
    if (!cached) throw new Error(`no cached result for ${rt.containerId}/${rt.ifname}: CHECK needs the ADD result`);
    for (const plugin of list.plugins) {
      await this.exec("CHECK", plugin, this.pluginConfig(list, plugin, rt, cached), rt);
    }
  }

  async del(list: NetworkList, rt: RuntimeConf): Promise<void> {
    const cached = this.cachedResult(list, rt);
    for (const plugin of [...list.plugins].reverse()) {
      await this.exec("DEL", plugin, this.pluginConfig(list, plugin, rt, cached), rt);
    }
    rmSync(this.cachePath(list, rt), { force: true });
  }
}
