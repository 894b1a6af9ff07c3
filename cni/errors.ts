// The CNI spec's error codes and the error type every failure is reported through.

export const ErrorCode = {
  /** Incompatible CNI version. */
  IncompatibleVersion: 1,
  /** Unsupported field in network configuration. */
  UnsupportedField: 2,
  /** Container unknown or does not exist. */
  UnknownContainer: 3,
  /** Invalid necessary environment variables, like CNI_COMMAND or CNI_CONTAINERID. */
  InvalidEnvironment: 4,
  /** I/O failure, e.g. the IPAM store cannot be read or written. */
  IoFailure: 5,
  /** Failed to decode content (malformed JSON). */
  DecodeFailure: 6,
  /** Invalid network config. */
  InvalidConfig: 7,
  /** Try again later: a transient condition (a lock held too long, a busy netlink). */
  TryAgainLater: 11,
  /** STATUS: the plugin cannot service ADD requests. */
  NotAvailable: 50,
  /** Plugin-specific: every address of the node's subnet is reserved. */
  SubnetExhausted: 100,
  /** Plugin-specific: a kernel operation (netlink, netfilter) failed. */
  NetworkSetupFailed: 101,
} as const;

export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

export class CniError extends Error {
  constructor(
    readonly code: ErrorCodeValue,
    msg: string,
    readonly details = "",
  ) {
    super(msg);
    this.name = "CniError";
  }

  /** For `ip -batch` failures: the command that failed, quoted. */
  failedCommand?: string;

  toJSON(cniVersion: string): { cniVersion: string; code: number; msg: string; details?: string } {
    const out: { cniVersion: string; code: number; msg: string; details?: string } = {
      cniVersion,
      code: this.code,
      msg: this.message,
    };
    if (this.details) out.details = this.details;
    return out;
  }
}

/** Turns anything thrown into a CniError; unexpected exceptions become I/O failures. */
export function asCniError(error: unknown): CniError {
  if (error instanceof CniError) return error;
  const err = error as NodeJS.ErrnoException;
  if (err && typeof err === "object" && typeof err.code === "string" && typeof err.message === "string") {
    return new CniError(ErrorCode.IoFailure, err.message, err.code);
  }
  return new CniError(ErrorCode.IoFailure, String(error instanceof Error ? error.message : error));
}
