/**
 * Access-token verification with jose, everything pinned: the issuer's key set (fetched over
 * HTTP, cached, refetched at most once per cooldown for an unknown `kid`), an allow-list of
 * asymmetric algorithms, the exact issuer, the audience, a required `exp`, and a small clock
 * tolerance for `exp` and `nbf`.
 *
 * Outcomes: a {@link VerifiedAccessToken}; {@link InvalidToken} (401) for anything wrong with the
 * token; {@link AuthUnavailable} (503) when the keys cannot be obtained (discovery or key set
 * unreachable, timing out, or answering garbage), so that an issuer outage never accepts a token
 * and never shows as a 500. jose errors are told apart by `err.code`, never by message.
 */
import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { AuthUnavailable, InvalidToken } from '../errors.js';
import { defaultRealm } from './bearer.js';
import { createKeySetLocator, type KeySetLocator } from './issuer.js';
import { grantedScopes } from './scopes.js';

/** Verification settings; `src/config.ts` (`AuthEnabledConfig`) provides every one of them. */
export interface AccessTokenVerifierOptions {
  /** Expected `iss`, compared exactly (Auth0's ends with `/`). */
  readonly issuer: string;
  /** Expected `aud`: the token's audience, or one of them. */
  readonly audience: string;
  /** Key set URL; when `undefined`, discovered from the issuer ({@link createKeySetLocator}). */
  readonly jwksUri?: string | undefined;
  /** Accepted JWS algorithms; asymmetric only (config refuses the others). */
  readonly algorithms: readonly string[];
  /** Tolerated clock skew for `exp` and `nbf`, in seconds. */
  readonly clockToleranceSeconds: number;
  /** Least time between two key set fetches, and between two discovery attempts, in milliseconds. */
  readonly jwksCooldownMs: number;
  /** How long a fetched key set is trusted before it is fetched again, in milliseconds. */
  readonly jwksCacheMaxAgeMs: number;
  /** Timeout of each request to the issuer, in milliseconds. */
  readonly httpTimeoutMs: number;
  /** `realm` of the challenges; default {@link defaultRealm}. */
  readonly realm?: string;
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
   * Locates and fetches the key set now, for a start-up log line; rejects with
   * {@link AuthUnavailable} when the issuer cannot be reached. Never required: `verify` does the same lazily.
   */
  warmUp(): Promise<void>;
  /** The issuer's token endpoint, once discovered (see {@link KeySetLocator.tokenEndpoint}); optional for verifiers that never discover. */
  tokenEndpoint?(): string | undefined;
}

type RemoteKeySet = ReturnType<typeof createRemoteJWKSet>;

/** Failures of the key set itself (not of the token) that jose reports with a code. */
const keySetFailures = new Set(['ERR_JWKS_TIMEOUT', 'ERR_JWKS_INVALID', 'ERR_JOSE_GENERIC', 'ERR_JWK_INVALID']);

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

/** Creates the verifier; with a known `jwksUri`, the remote key set is created here, once. */
export function createAccessTokenVerifier(options: AccessTokenVerifierOptions): AccessTokenVerifier {
  const realm = options.realm ?? defaultRealm;
  const locator: KeySetLocator = createKeySetLocator({
    issuer: options.issuer,
    jwksUri: options.jwksUri,
    httpTimeoutMs: options.httpTimeoutMs,
    retryCooldownMs: options.jwksCooldownMs,
  });
  const createKeySet = (url: URL): RemoteKeySet =>
    createRemoteJWKSet(url, {
      cooldownDuration: options.jwksCooldownMs,
      cacheMaxAge: options.jwksCacheMaxAgeMs,
      timeoutDuration: options.httpTimeoutMs,
    });
  let keySet: RemoteKeySet | undefined = options.jwksUri === undefined ? undefined : createKeySet(new URL(options.jwksUri));
  const remoteKeySet = async (): Promise<RemoteKeySet> => {
    keySet ??= createKeySet(await locator.locate());
    return keySet;
  };

  // jose calls this only after the token parsed and its `alg` passed the allow-list, so garbage
  // and `alg: none` are refused without contacting the issuer.
  const getKey: JWTVerifyGetKey = async (header, token) => {
    let keys;
    try {
      keys = await remoteKeySet();
    } catch (cause) {
      throw new AuthUnavailable(cause);
    }
    try {
      return await keys(header, token);
    } catch (error) {
      if (error instanceof errors.JOSEError && !keySetFailures.has(error.code)) throw error;
      // Network errors (fetch's TypeError), timeouts, non-200 answers, invalid key sets.
      throw new AuthUnavailable(error);
    }
  };

  return {
    async verify(token) {
      try {
        const { payload } = await jwtVerify(token, getKey, {
          issuer: options.issuer,
          audience: options.audience,
          algorithms: [...options.algorithms],
          requiredClaims: ['exp'],
          clockTolerance: options.clockToleranceSeconds,
        });
        return { claims: payload, scopes: grantedScopes(payload), subject: payload.sub };
      } catch (error) {
        if (error instanceof AuthUnavailable) throw error;
        if (!(error instanceof errors.JOSEError)) throw error;
        const description = error.code === 'ERR_JWT_CLAIM_VALIDATION_FAILED'
          ? claimDescriptions[(error as errors.JWTClaimValidationFailed).claim] ?? 'The access token has an invalid claim'
          : descriptions[error.code] ?? 'The access token is invalid';
        throw new InvalidToken(realm, description, error);
      }
    },
    async warmUp() {
      let keys;
      try {
        keys = await remoteKeySet();
      } catch (cause) {
        throw new AuthUnavailable(cause);
      }
      await keys.reload().catch((cause: unknown) => {
        throw new AuthUnavailable(cause);
      });
    },
    tokenEndpoint: () => locator.tokenEndpoint(),
  };
}
