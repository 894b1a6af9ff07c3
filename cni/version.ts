// CNI versions and the conversion of results between them. Internally a result is the
// 1.x shape; older configs get the 0.3.x/0.4.0 shape (ips carry "version": "4").
import { CniError, ErrorCode } from "./errors";

export const SUPPORTED_VERSIONS = ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"] as const;
export type CniVersion = (typeof SUPPORTED_VERSIONS)[number];
export const LATEST_VERSION: CniVersion = "1.1.0";

export function isSupportedVersion(v: unknown): v is CniVersion {
  return typeof v === "string" && (SUPPORTED_VERSIONS as readonly string[]).includes(v);
}

/** Compares dotted versions numerically: -1, 0 or 1. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(".").map(Number);
  const pb = b.split(".").map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

export function atLeast(version: string, minimum: string): boolean {
  return compareVersions(version, minimum) >= 0;
}

/** Refuses a verb that the config's version does not have (CHECK came in 0.4.0, GC and STATUS in 1.1.0). */
export function requireVersionFor(verb: string, version: string, minimum: CniVersion): void {
  if (!atLeast(version, minimum)) {
    throw new CniError(
      ErrorCode.IncompatibleVersion,
      `${verb} needs cniVersion ${minimum} or later; the network config says ${version}`,
      `set "cniVersion" to "${minimum}" or later (podnet supports ${SUPPORTED_VERSIONS.join(", ")})`,
    );
  }
}

export interface ResultInterface {
  name: string;
  mac: string;
  sandbox?: string;
  mtu?: number;
}

export interface ResultIP {
  address: string;
  gateway?: string;
  interface?: number;
}

export interface ResultRoute {
  dst: string;
  gw?: string;
}

/** A result in the 1.x shape, without cniVersion. */
export interface Result {
  interfaces: ResultInterface[];
  ips: ResultIP[];
  routes: ResultRoute[];
  dns: Record<string, unknown>;
}

/** Renders a result for the version the config asked for. */
export function convertResult(result: Result, version: CniVersion): Record<string, unknown> {
  const ips = result.ips.map((ip) => (atLeast(version, "1.0.0") ? { ...ip } : { version: "4", ...ip }));
  const interfaces = result.interfaces.map((i) => {
    // mtu in interfaces is a 1.1.0 addition; older runtimes get the fields they know.
    const { mtu, ...rest } = i;
    return atLeast(version, "1.1.0") && mtu !== undefined ? { ...rest, mtu } : rest;
  });
  return { cniVersion: version, interfaces, ips, routes: result.routes.map((r) => ({ ...r })), dns: { ...result.dns } };
}

/**
 * Reads a prevResult of any supported version (the runtime hands back what we produced,
 * possibly converted) into the internal shape.
 */
export function parsePrevResult(value: unknown): Result {
  if (!value || typeof value !== "object") {
    throw new CniError(
      ErrorCode.InvalidConfig,
      "prevResult is missing or not an object",
      "CHECK needs the ADD result as prevResult",
    );
  }
  const raw = value as Record<string, unknown>;
  const list = (field: string): Record<string, unknown>[] => {
    const v = raw[field];
    if (v === undefined) return [];
    if (!Array.isArray(v)) throw new CniError(ErrorCode.InvalidConfig, `prevResult.${field} must be a list`);
    return v as Record<string, unknown>[];
  };
  return {
    interfaces: list("interfaces").map((i) => ({
      name: String(i.name ?? ""),
      mac: String(i.mac ?? ""),
      ...(typeof i.sandbox === "string" ? { sandbox: i.sandbox } : {}),
    })),
    ips: list("ips").map((ip) => ({
      address: String(ip.address ?? ""),
      ...(typeof ip.gateway === "string" ? { gateway: ip.gateway } : {}),
      ...(typeof ip.interface === "number" ? { interface: ip.interface } : {}),
    })),
    routes: list("routes").map((r) => ({
      dst: String(r.dst ?? ""),
      ...(typeof r.gw === "string" ? { gw: r.gw } : {}),
    })),
    dns: typeof raw.dns === "object" && raw.dns !== null ? (raw.dns as Record<string, unknown>) : {},
  };
}
