/**
 * When the issuer may be asked again for its key material (discovery document, key set).
 *
 * - After a success: not before `cooldownMs`. A success is only asked again for a key the key set
 *   did not have (a token with an unknown `kid`, forged or newly rotated in) or once the keys are
 *   old; the cooldown bounds what forged tokens can make the service ask.
 * - After a failure: sooner, because the service is then refusing tokens (or living on old keys),
 *   but not at every request. The first retry waits `backoffMs`, each further consecutive failure
 *   doubles the wait, up to `cooldownMs`: an issuer that is starting (`make run`) or blipped is found
 *   again within a second or two, one that stays down is asked once per cooldown.
 *
 * ```
 * backoffMs 1 s, cooldownMs 30 s: failures at t = 0, 1, 3, 7, 15, 31, 61 … s
 * ```
 */

/** The two waits of the schedule, and its clock. */
export interface RetryScheduleOptions {
  /** Least time between an attempt that succeeded and the next, in milliseconds; also the longest wait after failures. */
  readonly cooldownMs: number;
  /** Wait after the first failure, in milliseconds; doubled at each further consecutive failure. */
  readonly backoffMs: number;
  /** Clock, in milliseconds. */
  readonly now: () => number;
}

/** See the module comment. */
export interface RetrySchedule {
  /** Whether an attempt may start now. */
  due(): boolean;
  /** Milliseconds until an attempt may start (0 when it may now). */
  waitMs(): number;
  /** Records an attempt that succeeded, started or ended now. */
  succeeded(): void;
  /** Records an attempt that failed, ended now. */
  failed(): void;
}

/** Creates a schedule under which the first attempt is due at once. */
export function createRetrySchedule(options: RetryScheduleOptions): RetrySchedule {
  const { cooldownMs, backoffMs, now } = options;
  let next = -Infinity;
  let failures = 0;
  return {
    due: () => now() >= next,
    waitMs: () => Math.max(0, next - now()),
    succeeded() {
      failures = 0;
      next = now() + cooldownMs;
    },
    failed() {
      failures += 1;
      // 2 ** 30 already exceeds any cooldown the configuration accepts; the exponent stays bounded.
      next = now() + Math.min(cooldownMs, backoffMs * 2 ** Math.min(failures - 1, 30));
    },
  };
}
