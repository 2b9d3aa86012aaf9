/**
 * Access-token verification with jose, everything pinned: the issuer's key set (fetched over
 * HTTP, at most 256 KiB, cached, kept through an outage for a bounded time, and asked for on a
 * schedule rather than per request: `key-set-cache.ts`), an allow-list of asymmetric algorithms,
 * the exact issuer, the audience, a required `exp`, an `iat` not in the future, a maximum token
 * lifetime, an optional maximum token age, and a small clock tolerance for all of them.
 *
 * Outcomes: a {@link VerifiedAccessToken}; {@link InvalidToken} (401) for anything wrong with the
 * token; {@link AuthUnavailable} (503) when the keys cannot be obtained (discovery or key set
 * unreachable, timing out, or answering garbage), so that an issuer outage never accepts a token
 * and never shows as a 500. jose errors are told apart by `err.code`, never by message.
 */
import { errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { AuthUnavailable, InvalidToken } from '../errors.js';
import { defaultRealm } from './bearer.js';
import { createKeySetLocator, type KeySetLocator } from './issuer.js';
import { createKeySetCache, type IssuerStatus } from './key-set-cache.js';
import { createKeySetFetch } from './key-set-fetch.js';
import { grantedScopes } from './scopes.js';

/** Verification settings; `src/auth/settings.ts` (`AuthEnabledSettings`) provides every one of them. */
export interface AccessTokenVerifierOptions {
  /** Expected `iss`, compared exactly (Auth0's ends with `/`). */
  readonly issuer: string;
  /** Expected `aud`: the token's audience, or one of them. */
  readonly audience: string;
  /** Key set URL; when `undefined`, discovered from the issuer ({@link createKeySetLocator}). */
  readonly jwksUri?: string | undefined;
  /** Accepted JWS algorithms; asymmetric only (config refuses the others). */
  readonly algorithms: readonly string[];
  /** Tolerated clock skew for `exp`, `nbf` and `iat`, in seconds. */
  readonly clockToleranceSeconds: number;
  /** Oldest accepted token, from its `iat` (then required), in seconds; `undefined`: no bound. */
  readonly maxTokenAgeSeconds?: number | undefined;
  /** Longest lifetime accepted, `exp − iat` (or `exp − now` without `iat`), in seconds. */
  readonly maxTokenLifetimeSeconds: number;
  /** Least time between a successful request to the issuer and the next, and the longest retry back-off, in milliseconds. */
  readonly jwksCooldownMs: number;
  /** First retry back-off after a failed request to the issuer, doubled at each consecutive failure, in milliseconds. */
  readonly retryBackoffMs: number;
  /** How long a fetched key set is used before it is refreshed, in milliseconds. */
  readonly jwksCacheMaxAgeMs: number;
  /** How long beyond `jwksCacheMaxAgeMs` the key set is still used while the issuer cannot be reached, in milliseconds. */
  readonly jwksStaleIfErrorMs: number;
  /** Timeout of each request to the issuer, in milliseconds. */
  readonly httpTimeoutMs: number;
  /** `realm` of the challenges; default {@link defaultRealm}. */
  readonly realm?: string;
  /** Clock, in milliseconds since the epoch, for tests; default `Date.now`. */
  readonly now?: () => number;
  /** Told when the issuer becomes reachable or unreachable, for the log (`setup.ts`). */
  readonly onIssuerStatus?: (status: IssuerStatus) => void;
}

/** A token that passed every check. */
export interface VerifiedAccessToken {
  readonly claims: JWTPayload;
  /** From `scope`, `scp` and `permissions` ({@link grantedScopes}). */
  readonly scopes: ReadonlySet<string>;
  /** `sub`: the client (client-credentials grant) or the user. */
  readonly subject: string | undefined;
}

export interface AccessTokenVerifier {
  /**
   * Verifies a compact JWS access token.
   * @throws {@link InvalidToken} or {@link AuthUnavailable}.
   */
  verify(token: string): Promise<VerifiedAccessToken>;
  /**
   * Locates and fetches the key set now if the issuer may be asked (or joins the request under
   * way), for start-up; rejects with {@link AuthUnavailable} when the last attempt failed. Never
   * required: `verify` does the same lazily.
   */
  warmUp(): Promise<void>;
  /** The issuer's token endpoint, once discovered (see {@link KeySetLocator.tokenEndpoint}); optional for verifiers that never discover. */
  tokenEndpoint?(): string | undefined;
}

/** The verifier {@link createAccessTokenVerifier} makes: it also tells how its issuer is doing, for start-up. */
export interface IssuerAccessTokenVerifier extends AccessTokenVerifier {
  /** Whether the issuer's keys have been fetched since start-up. */
  keysFetched(): boolean;
  /** Milliseconds until the issuer may be asked again (0: now). */
  retryInMs(): number;
}

/** Failures of a published key itself (not of the token) that jose reports with a code when importing it. */
const keySetFailures = new Set(['ERR_JWKS_INVALID', 'ERR_JOSE_GENERIC', 'ERR_JWK_INVALID']);

/** What the client is told for each jose code; fixed texts, never the token's content. */
const descriptions: Readonly<Record<string, string>> = {
  ERR_JWS_INVALID: 'The access token is malformed',
  ERR_JWT_INVALID: 'The access token is malformed',
  ERR_JOSE_ALG_NOT_ALLOWED: 'The access token is signed with an algorithm that is not accepted',
  ERR_JOSE_NOT_SUPPORTED: 'The access token uses an unsupported algorithm or header',
  ERR_JWS_SIGNATURE_VERIFICATION_FAILED: 'The access token signature is invalid',
  ERR_JWKS_NO_MATCHING_KEY: 'The access token is signed with an unknown key',
  ERR_JWKS_MULTIPLE_MATCHING_KEYS: 'The access token does not identify its signing key',
  ERR_JWT_EXPIRED: 'The access token has expired',
};

const claimDescriptions: Readonly<Record<string, string>> = {
  iss: 'The access token was issued by another issuer',
  aud: 'The access token is meant for another audience',
  nbf: 'The access token is not valid yet',
  exp: 'The access token has no valid expiry',
  iat: 'The access token has an invalid issue time',
};

/** `iat` later than now plus the tolerance: a token from the future, or a forged one. */
const IAT_IN_FUTURE = 'The access token is issued in the future';
/** Older than `maxTokenAgeSeconds` (jose reports it as an expiry of `iat`). */
const TOO_OLD = 'The access token is older than the service accepts';

/**
 * Valid for longer than `maxTokenLifetimeSeconds`: says the bound, so that the client (or its
 * issuer's administrator) knows what to ask for. ASCII only: it is also the challenge's
 * `error_description` (RFC 6750 §3).
 */
function tooLongLived(maxSeconds: number, withIat: boolean): string {
  return withIat
    ? `The access token's lifetime (exp - iat) is over the ${maxSeconds} s the service accepts; request a shorter-lived token`
    : `The access token has no iat and expires more than ${maxSeconds} s from now, longer than the service accepts; request a shorter-lived token`;
}

/** The fixed text a client is told for a jose error. */
function describe(error: errors.JOSEError): string {
  if (error.code === 'ERR_JWT_EXPIRED' && (error as errors.JWTExpired).claim === 'iat') return TOO_OLD;
  if (error.code === 'ERR_JWT_CLAIM_VALIDATION_FAILED') {
    const failed = error as errors.JWTClaimValidationFailed;
    if (failed.claim === 'iat' && failed.reason === 'check_failed') return IAT_IN_FUTURE;
    return claimDescriptions[failed.claim] ?? 'The access token has an invalid claim';
  }
  return descriptions[error.code] ?? 'The access token is invalid';
}

/** Creates the verifier; with a known `jwksUri`, the remote key set is created here, once. */
export function createAccessTokenVerifier(options: AccessTokenVerifierOptions): IssuerAccessTokenVerifier {
  const realm = options.realm ?? defaultRealm;
  const now = options.now ?? Date.now;
  const locator: KeySetLocator = createKeySetLocator({
    issuer: options.issuer,
    jwksUri: options.jwksUri,
    httpTimeoutMs: options.httpTimeoutMs,
  });
  const keySet = createKeySetCache({
    locate: () => locator.locate(),
    fetchKeySet: createKeySetFetch({ timeoutMs: options.httpTimeoutMs }),
    cacheMaxAgeMs: options.jwksCacheMaxAgeMs,
    staleIfErrorMs: options.jwksStaleIfErrorMs,
    cooldownMs: options.jwksCooldownMs,
    retryBackoffMs: options.retryBackoffMs,
    now,
    ...(options.onIssuerStatus ? { onStatus: options.onIssuerStatus } : {}),
  });

  // jose calls this only after the token parsed and its `alg` passed the allow-list, so garbage
  // and `alg: none` are refused without contacting the issuer.
  const getKey: JWTVerifyGetKey = async (header, token) => {
    try {
      return await keySet.getKey(header, token);
    } catch (error) {
      if (error instanceof errors.JOSEError && keySetFailures.has(error.code)) throw new AuthUnavailable(error, keySet.retryInMs() / 1000);
      throw error;
    }
  };

  return {
    async verify(token) {
      const at = now();
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, getKey, {
          issuer: options.issuer,
          audience: options.audience,
          algorithms: [...options.algorithms],
          requiredClaims: ['exp'],
          clockTolerance: options.clockToleranceSeconds,
          currentDate: new Date(at),
          ...(options.maxTokenAgeSeconds === undefined ? {} : { maxTokenAge: options.maxTokenAgeSeconds }),
        }));
      } catch (error) {
        if (error instanceof AuthUnavailable) throw error;
        if (!(error instanceof errors.JOSEError)) throw error;
        throw new InvalidToken(realm, describe(error), error);
      }
      // jose checks `iat` against the clock only with maxTokenAge; a future one is refused always.
      const iat = typeof payload.iat === 'number' ? payload.iat : undefined;
      if (iat !== undefined && iat > at / 1000 + options.clockToleranceSeconds) {
        throw new InvalidToken(realm, IAT_IN_FUTURE);
      }
      // A stolen token is usable until its `exp`: one that claims to live for years (or has
      // `exp: 1e20`) is refused, whatever its issuer thought. Without `iat`, the time it has left
      // is bounded instead (with the clock tolerance, as for `exp` itself).
      const maxLifetime = options.maxTokenLifetimeSeconds;
      // Required, and checked to be a number, by jose (`requiredClaims`).
      const exp = payload.exp as number;
      const lifetime = iat !== undefined ? exp - iat : exp - at / 1000 - options.clockToleranceSeconds;
      if (lifetime > maxLifetime) throw new InvalidToken(realm, tooLongLived(maxLifetime, iat !== undefined));
      return { claims: payload, scopes: grantedScopes(payload), subject: payload.sub };
    },
    warmUp: () => keySet.refresh(),
    tokenEndpoint: () => locator.tokenEndpoint(),
    keysFetched: () => keySet.fetched(),
    retryInMs: () => keySet.retryInMs(),
  };
}
