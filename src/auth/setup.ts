/**
 * Auth from the configuration, in one call for `main.ts`.
 *
 * ```ts
 * const auth = authFromConfig(config.auth, log);
 * const readiness = createReadiness('warming-up', modelHealth, auth.issuerReached);
 * // once listening:
 * const keys = auth.fetchKeys();
 * await keys; // before logging `ready`
 * ```
 */
import type { AuthSettings } from './settings.js';
import { errorSummary, type Logger } from '../log.js';
import type { IssuerStatus } from './key-set-cache.js';
import { createAccessTokenVerifier, type AccessTokenVerifier } from './verifier.js';

/** What `main.ts` takes from the auth settings. */
export interface AuthSetup {
  /** Verifies bearer tokens; `undefined` when `AUTH_DISABLED=true`. */
  readonly verifier: AccessTokenVerifier | undefined;
  /** Whether the issuer's keys have been fetched since start-up (always true without auth), for readiness. */
  readonly issuerReached: () => boolean;
  /**
   * Starts fetching the issuer's keys, retrying until they are in (see {@link authFromConfig});
   * resolves then, never rejects. Called again, returns the same promise.
   */
  fetchKeys(): Promise<void>;
}

/** Shortest wait between two start-up attempts, in milliseconds: the schedule's own wait is never 0 after a failure, but a clock can jump. */
const MIN_STARTUP_RETRY_MS = 50;

/**
 * The verifier the configuration asks for, or none when `AUTH_DISABLED=true` (logged as a
 * warning).
 *
 * {@link AuthSetup.fetchKeys} fetches the issuer's keys in the background, and again on the
 * verifier's retry schedule (a short back-off growing to the cooldown) until they are in: an
 * issuer that is still starting (`make run`) or briefly down does not stop start-up, and readiness
 * waits for it (`awaiting-issuer`) rather than announce a service that answers 503 to every token.
 * Afterwards the requests that need the issuer drive the retries. `main.ts` calls it once the
 * server listens, not before: building the app keeps the event loop busy for seconds on a loaded
 * machine (openapi-backend compiles the spec's validators), and the issuer's answer, arrived in
 * time, would be read only after its timeout had fired (the cold `make run` of issue 22 logged
 * exactly that timeout).
 *
 * The log says when the issuer is reached (`token issuer keys fetched` the first time, `token
 * issuer reachable again` after a failure, with how long it was not) and when it fails (`token
 * issuer unreachable`, with the reason, when it is asked next and how much longer the keys already
 * fetched are used): one line per change, never one per attempt or request.
 */
export function authFromConfig(auth: AuthSettings, log: Logger): AuthSetup {
  if (!auth.enabled) {
    log.warn('AUTH_DISABLED=true: every operation is served without an access token; never do this in production');
    return { verifier: undefined, issuerReached: () => true, fetchKeys: () => Promise.resolve() };
  }
  const verifier = createAccessTokenVerifier({ ...auth, onIssuerStatus: (status) => logIssuerStatus(log, auth, status) });
  let fetching: Promise<void> | undefined;
  const fetchKeys = (): Promise<void> =>
    (fetching ??= new Promise<void>((resolve) => {
      const attempt = (): void => {
        verifier.warmUp().then(resolve, () => {
          // Unref'd: a process asked to stop does not wait for the issuer.
          setTimeout(attempt, Math.max(MIN_STARTUP_RETRY_MS, verifier.retryInMs())).unref();
        });
      };
      attempt();
    }));
  return { verifier, issuerReached: () => verifier.keysFetched(), fetchKeys };
}

/** One log line per change of the issuer's status; see {@link authFromConfig}. */
function logIssuerStatus(log: Logger, auth: Extract<AuthSettings, { enabled: true }>, status: IssuerStatus): void {
  const { issuer } = auth;
  if (status.reachable) {
    if (status.unreachableForMs === undefined) log.info({ issuer, audience: auth.audience }, 'token issuer keys fetched');
    else log.info({ issuer, unreachableForMs: status.unreachableForMs }, 'token issuer reachable again');
    return;
  }
  const reason = errorSummary(status.error);
  const { retryInMs, keysUsableForMs } = status;
  if (keysUsableForMs > 0) {
    log.warn({ issuer, reason, retryInMs, keysUsableForMs }, 'token issuer unreachable; tokens are verified with the keys fetched earlier meanwhile');
  } else {
    log.warn({ issuer, reason, retryInMs }, 'token issuer unreachable; protected operations answer 503 until it is back');
  }
}
