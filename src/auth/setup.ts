/**
 * Auth from the configuration, in one call for `main.ts`.
 *
 * ```ts
 * const verifier = verifierFromConfig(config.auth, log);
 * ```
 */
import type { AuthSettings } from './settings.js';
import { errorSummary, type Logger } from '../log.js';
import { createAccessTokenVerifier, type AccessTokenVerifier } from './verifier.js';

/**
 * The verifier the configuration asks for, or `undefined` when `AUTH_DISABLED=true` (logged as a
 * warning). Starts locating and fetching the issuer's keys in the background and logs the outcome;
 * an unreachable issuer does not stop start-up: protected operations answer 503 until it is back.
 */
export function verifierFromConfig(auth: AuthSettings, log: Logger): AccessTokenVerifier | undefined {
  if (!auth.enabled) {
    log.warn('AUTH_DISABLED=true: every operation is served without an access token; never do this in production');
    return undefined;
  }
  const verifier = createAccessTokenVerifier(auth);
  verifier.warmUp().then(
    () => log.info({ issuer: auth.issuer, audience: auth.audience }, 'token issuer keys fetched'),
    (error: unknown) =>
      log.warn(
        { issuer: auth.issuer, reason: errorSummary(error instanceof Error && error.cause !== undefined ? error.cause : error) },
        'token issuer unreachable; protected operations answer 503 until it is back',
      ),
  );
  return verifier;
}
