// How the bootstrap reaches the nodes over SSH with @pulumi/command: how long a connection
// keeps dialling a node that is still booting, and which host key it accepts.
//
// The provider (pulumi-command provider/pkg/provider/remote/connection.go) dials in a loop:
// after each failed dial it sleeps, starting at 100 ms and growing 1.5x up to 5 s
// (pulumi's retry.Until defaults), and gives up after dialErrorLimit failures. Each dial's
// TCP connect is bounded by perDialTimeout seconds. Its defaults (10 failures) give up
// after about 11 s when dials fail fast, as they do while a fresh instance boots
// ("connection refused" before sshd listens, a handshake failure until cloud-init has
// written the host key and the ubuntu user's authorized key).
import type * as command from "@pulumi/command";
import type * as pulumi from "@pulumi/pulumi";

export interface DialLimits {
  /** Failed dials before the provider gives up (it makes one more attempt than this). */
  readonly dialErrorLimit: number;
  /** Seconds each dial's TCP connect may take. */
  readonly perDialTimeout: number;
}

/** The provider's sleep between failed dials: 100 ms, x1.5 each time, at most 5 s. */
export const PROVIDER_BACKOFF = { firstSeconds: 0.1, factor: 1.5, maxSeconds: 5 } as const;

/**
 * Every command that runs something: the first one meets a node that is still booting, and
 * any may meet one that reboots. About 9 minutes when dials fail fast, about 19 when every
 * dial times out (a wrong podnet:adminCidrs), then the command fails.
 */
export const BOOT_DIAL: DialLimits = { dialErrorLimit: 120, perDialTimeout: 5 };

/**
 * The worker drain (a delete): a control plane that does not answer within about 20 s is
 * reported as a failed delete rather than holding the update for many minutes.
 */
export const DRAIN_DIAL: DialLimits = { dialErrorLimit: 3, perDialTimeout: 5 };

/** How long the provider keeps dialling before it fails: dials failing at once, and every dial timing out. */
export function dialBudgetSeconds(limits: DialLimits): { failFast: number; allTimeouts: number } {
  let sleeps = 0;
  let delay = PROVIDER_BACKOFF.firstSeconds;
  for (let failure = 0; failure < limits.dialErrorLimit; failure++) {
    sleeps += Math.min(delay, PROVIDER_BACKOFF.maxSeconds);
    delay *= PROVIDER_BACKOFF.factor;
  }
  return { failFast: sleeps, allTimeouts: sleeps + (limits.dialErrorLimit + 1) * limits.perDialTimeout };
}

export interface SshTarget {
  readonly host: pulumi.Input<string>;
  readonly user: string;
  readonly privateKey: pulumi.Input<string>;
  /** The node's pinned host key, authorized_keys format ("ssh-ed25519 AAAA..."). */
  readonly hostKey: pulumi.Input<string>;
}

/** A connection that accepts only the node's own host key and dials within the given limits. */
export function sshConnection(target: SshTarget, limits: DialLimits): command.types.input.remote.ConnectionArgs {
  return {
    host: target.host,
    user: target.user,
    privateKey: target.privateKey,
    hostKey: target.hostKey,
    dialErrorLimit: limits.dialErrorLimit,
    perDialTimeout: limits.perDialTimeout,
  };
}
