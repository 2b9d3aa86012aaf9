/**
 * The issuer's keys as the verifier uses them: the last key set fetched, asked for again on a
 * schedule (`retry-schedule.ts`), and kept through an outage for a bounded time.
 *
 * - **Fresh** (fetched less than `cacheMaxAgeMs` ago): used as they are; the issuer is not asked.
 * - **Old** (beyond `cacheMaxAgeMs`): still used while a refresh runs in the background, and, when
 *   refreshing fails, for up to `staleIfErrorMs` more (stale-if-error, as RFC 5861 names it for
 *   HTTP caches): an issuer outage does not refuse tokens whose keys the service has. Beyond that
 *   the keys are dropped: a key the issuer withdrew is trusted at most that long without news.
 * - **A `kid` the keys lack**: the issuer is asked at once if the schedule allows, and the token
 *   waits for the answer (a key rotated in is accepted without a restart); otherwise the last
 *   answer stands: after a success the key is unknown (401), after a failure nobody can tell a new
 *   key from a forged one (503).
 * - **No keys at all** (start-up, or dropped): a request waits for the attempt the schedule allows,
 *   or is refused 503.
 *
 * One attempt (discovery when needed, then the key set) runs at a time, and whatever arrives
 * meanwhile joins it; the schedule, never the traffic, decides when the next one starts, so forged
 * tokens cost the issuer at most one request per back-off step or cooldown. Each attempt that
 * changes the issuer's status (reached, or not) is reported once through `onStatus`, for the log.
 *
 * Key selection and import are jose's (`createLocalJWKSet`); jose's remote key set is not used
 * because it drops its keys once they are older than their maximum age whatever the issuer
 * answers, and retries a failing issuer only at the next request, after its cooldown.
 */
import { createLocalJWKSet, errors, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import { AuthUnavailable } from '../errors.js';
import { createRetrySchedule } from './retry-schedule.js';

/** What the cache needs. */
export interface KeySetCacheOptions {
  /** The key set's URL (discovery, or the configured one); called within each attempt. */
  readonly locate: () => Promise<URL>;
  /** One request for the key set (`key-set-fetch.ts`). */
  readonly fetchKeySet: (url: URL) => Promise<JSONWebKeySet>;
  /** Age beyond which the keys are refreshed, in milliseconds. */
  readonly cacheMaxAgeMs: number;
  /** How long beyond `cacheMaxAgeMs` the keys are still used while the issuer cannot be reached, in milliseconds. */
  readonly staleIfErrorMs: number;
  /** Least time between an attempt that succeeded and the next, and the longest back-off, in milliseconds. */
  readonly cooldownMs: number;
  /** First wait after a failure, doubled at each consecutive one, in milliseconds. */
  readonly retryBackoffMs: number;
  /** Clock, in milliseconds since the epoch. */
  readonly now: () => number;
  /** Told when the issuer becomes reachable or unreachable (never twice in a row the same). */
  readonly onStatus?: (status: IssuerStatus) => void;
}

/** A change of the issuer's status, as the cache saw it in one attempt. */
export type IssuerStatus =
  | {
    readonly reachable: true;
    /** How long it had been failing; `undefined` for the first success since start-up. */
    readonly unreachableForMs: number | undefined;
  }
  | {
    readonly reachable: false;
    /** Why the attempt failed. */
    readonly error: Error;
    /** When the issuer will be asked again at the earliest, in milliseconds from now. */
    readonly retryInMs: number;
    /** How much longer the keys fetched earlier are used, in milliseconds; 0 when there are none. */
    readonly keysUsableForMs: number;
  };

/** See the module comment. */
export interface KeySetCache {
  /** The key for a token's header, for jose's `jwtVerify`; throws {@link AuthUnavailable} when keys cannot be had. */
  readonly getKey: JWTVerifyGetKey;
  /**
   * Fetches the keys now if the schedule allows (or joins the attempt under way); resolves once
   * the cache holds usable keys and the last attempt succeeded.
   * @throws {@link AuthUnavailable} otherwise.
   */
  refresh(): Promise<void>;
  /** Whether keys have ever been fetched since start-up. */
  fetched(): boolean;
  /** Milliseconds until the issuer may be asked again (0: now). */
  retryInMs(): number;
}

type LocalKeySet = ReturnType<typeof createLocalJWKSet>;

/** Creates the cache; performs no I/O until keys are needed. */
export function createKeySetCache(options: KeySetCacheOptions): KeySetCache {
  const { now, cacheMaxAgeMs, staleIfErrorMs } = options;
  const schedule = createRetrySchedule({ cooldownMs: options.cooldownMs, backoffMs: options.retryBackoffMs, now });
  let keys: { readonly local: LocalKeySet; readonly fetchedAt: number } | undefined;
  let pending: Promise<void> | undefined;
  /** The failure of the last attempt; `undefined` once one succeeded. */
  let lastError: Error | undefined;
  /** `undefined` before the first attempt. */
  let reachable: boolean | undefined;
  let unreachableSince = 0;

  const fresh = (): boolean => keys !== undefined && now() - keys.fetchedAt < cacheMaxAgeMs;
  // After a success the keys also stand until the issuer may be asked again (a maximum age
  // shorter than the cooldown must not leave the service without keys it cannot refresh).
  const usableUntil = (): number =>
    keys === undefined ? -Infinity : keys.fetchedAt + Math.max(cacheMaxAgeMs + staleIfErrorMs, options.cooldownMs);
  const usable = (): boolean => now() < usableUntil();

  const report = (status: IssuerStatus): void => {
    reachable = status.reachable;
    options.onStatus?.(status);
  };

  /** One attempt; never rejects (the outcome is in `keys` and `lastError`). */
  const attempt = async (): Promise<void> => {
    const startedAt = now();
    try {
      const local = createLocalJWKSet(await options.fetchKeySet(await options.locate()));
      keys = { local, fetchedAt: now() };
      lastError = undefined;
      schedule.succeeded();
      if (reachable !== true) report({ reachable: true, unreachableForMs: reachable === false ? now() - unreachableSince : undefined });
    } catch (error) {
      lastError = error instanceof Error ? error : new Error(String(error));
      schedule.failed();
      if (reachable !== false) {
        unreachableSince = startedAt;
        report({ reachable: false, error: lastError, retryInMs: schedule.waitMs(), keysUsableForMs: Math.max(0, usableUntil() - now()) });
      }
    }
  };

  /** The attempt under way, or a new one if the schedule allows; `undefined` when neither. */
  const joinOrStart = (): Promise<void> | undefined => {
    if (pending) return pending;
    if (!schedule.due()) return undefined;
    pending = attempt().finally(() => {
      pending = undefined;
    });
    return pending;
  };

  // Retry-After: when the issuer will be asked again (at least a second: a retry sooner meets the same failure).
  const unavailable = (): AuthUnavailable => new AuthUnavailable(lastError ?? new Error('no key set fetched yet'), schedule.waitMs() / 1000);

  const getKey: JWTVerifyGetKey = async (header, token) => {
    if (!fresh()) {
      const refreshing = joinOrStart();
      // With usable keys the refresh runs in the background; without, the token waits for it.
      if (!usable()) await refreshing;
    }
    if (!keys || !usable()) throw unavailable();
    try {
      return await keys.local(header, token);
    } catch (error) {
      if (!(error instanceof errors.JWKSNoMatchingKey)) throw error;
      const refreshing = joinOrStart();
      if (refreshing) await refreshing;
      if (lastError) throw unavailable();
      if (refreshing && usable()) return keys.local(header, token);
      throw error;
    }
  };

  return {
    getKey,
    async refresh() {
      await joinOrStart();
      if (lastError || !usable()) throw unavailable();
    },
    fetched: () => keys !== undefined,
    retryInMs: () => (pending ? 0 : schedule.waitMs()),
  };
}
