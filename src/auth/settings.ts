/**
 * The settings of access-token verification, as the configuration provides them
 * (`OAUTH2_*`, `AUTH_DISABLED`; see `src/config/auth.ts`).
 */

/** Access-token verification: either off (explicitly) or fully pinned. */
export type AuthSettings = AuthDisabledSettings | AuthEnabledSettings;

/** `AUTH_DISABLED=true`: every operation is served without a token. */
export interface AuthDisabledSettings {
  readonly enabled: false;
}

/** The settings of `src/auth/` when tokens are verified. */
export interface AuthEnabledSettings {
  readonly enabled: true;
  /** Expected `iss`, compared exactly. */
  readonly issuer: string;
  /** Expected `aud` (one of the token's audiences). */
  readonly audience: string;
  /** Key set URL; `undefined` means discover it from the issuer's metadata. */
  readonly jwksUri: string | undefined;
  /** Public client id of the web page (`undefined`: the page cannot sign in). */
  readonly uiClientId: string | undefined;
  /** Allow-list of asymmetric JWS algorithms. */
  readonly algorithms: readonly string[];
  /** Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds. */
  readonly clockToleranceSeconds: number;
  /** Oldest token accepted, from `iat`; `undefined`: no bound. */
  readonly maxTokenAgeSeconds: number | undefined;
  /** Longest token lifetime accepted, `exp − iat` (or `exp − now` without `iat`), in seconds. */
  readonly maxTokenLifetimeSeconds: number;
  /** Least time between a successful request to the issuer and the next (and the longest retry back-off), in milliseconds. */
  readonly jwksCooldownMs: number;
  /** First wait before asking the issuer again after a failure, doubled at each consecutive failure, in milliseconds. */
  readonly retryBackoffMs: number;
  /** How long a fetched key set is used before it is fetched again, in milliseconds. */
  readonly jwksCacheMaxAgeMs: number;
  /** How long beyond `jwksCacheMaxAgeMs` the last key set is still used while the issuer cannot be reached, in milliseconds. */
  readonly jwksStaleIfErrorMs: number;
  /** Timeout of each request to the issuer, in milliseconds. */
  readonly httpTimeoutMs: number;
}
