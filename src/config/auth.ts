/**
 * The `OAUTH2_*` and `AUTH_DISABLED` variables → the auth section of the configuration, with the
 * rules that span several variables.
 */
import type { AuthSettings } from '../auth/settings.js';

/** JWS algorithms whose verification key is public (RFC 7518 §3.1, RFC 8037): the only ones accepted. */
const asymmetricAlgorithms: readonly string[] = Object.freeze([
  'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519',
]);

/**
 * The auth section of the validated variables `raw`; pushes every problem onto `problems` and
 * returns `undefined` if there is any.
 */
export function authSettings(raw: Readonly<Record<string, unknown>>, problems: string[]): AuthSettings | undefined {
  if (raw.AUTH_DISABLED === true) return Object.freeze({ enabled: false });
  const before = problems.length;
  const issuer = raw.OAUTH2_ISSUER;
  const audience = raw.OAUTH2_AUDIENCE;
  const jwksUri = raw.OAUTH2_JWKS_URI;
  if (issuer === undefined) {
    problems.push('OAUTH2_ISSUER is required (or set AUTH_DISABLED=true to serve without tokens)');
  } else if (typeof issuer === 'string') {
    checkIssuerUrl('OAUTH2_ISSUER', issuer, problems);
  }
  if (audience === undefined) {
    problems.push('OAUTH2_AUDIENCE is required (or set AUTH_DISABLED=true to serve without tokens)');
  }
  if (typeof jwksUri === 'string') checkIssuerUrl('OAUTH2_JWKS_URI', jwksUri, problems);
  const algorithms = typeof raw.OAUTH2_ALGORITHMS === 'string'
    ? raw.OAUTH2_ALGORITHMS.split(',').map((a) => a.trim()).filter((a) => a !== '')
    : [];
  const refused = algorithms.filter((a) => !asymmetricAlgorithms.includes(a));
  if (refused.length > 0 || algorithms.length === 0) {
    problems.push(
      `OAUTH2_ALGORITHMS must list asymmetric JWS algorithms only (${asymmetricAlgorithms.join(', ')}); refused: ${refused.join(', ') || '(empty)'}`,
    );
  }
  if (problems.length > before) return undefined;
  return Object.freeze({
    enabled: true,
    issuer: issuer as string,
    audience: audience as string,
    jwksUri: jwksUri as string | undefined,
    uiClientId: raw.OAUTH2_UI_CLIENT_ID as string | undefined,
    algorithms: Object.freeze(algorithms),
    clockToleranceSeconds: raw.OAUTH2_CLOCK_TOLERANCE_SECONDS as number,
    maxTokenAgeSeconds: raw.OAUTH2_MAX_TOKEN_AGE_SECONDS as number | undefined,
    maxTokenLifetimeSeconds: raw.OAUTH2_MAX_TOKEN_LIFETIME_SECONDS as number,
    jwksCooldownMs: raw.OAUTH2_JWKS_COOLDOWN_MS as number,
    retryBackoffMs: raw.OAUTH2_RETRY_BACKOFF_MS as number,
    jwksCacheMaxAgeMs: raw.OAUTH2_JWKS_CACHE_MAX_AGE_MS as number,
    jwksStaleIfErrorMs: raw.OAUTH2_JWKS_STALE_IF_ERROR_MS as number,
    httpTimeoutMs: raw.OAUTH2_HTTP_TIMEOUT_MS as number,
  });
}

/** Keys and metadata must come over HTTPS; plain HTTP is tolerated on loopback only (development, tests). */
function checkIssuerUrl(name: string, value: string, problems: string[]): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    problems.push(`${name} must be an absolute URL`);
    return;
  }
  const loopback = ['127.0.0.1', '[::1]', 'localhost'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    problems.push(`${name} must use https (http is accepted for loopback hosts only)`);
  }
}
