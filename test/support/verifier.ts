/**
 * The token verifier of a test's service, against the test's identity provider, as the service
 * builds it from its configuration: the key set found through discovery, RS256 and ES256, 5 s of
 * clock tolerance. A test passes what it varies (cool-down, timeouts).
 */
import { createAccessTokenVerifier, type AccessTokenVerifier, type AccessTokenVerifierOptions } from '../../src/auth/verifier.js';

/** A verifier for the issuer and audience of `idp`, with `overrides`. */
export function verifierFor(
  idp: { readonly issuer: string; readonly audience: string },
  overrides: Partial<AccessTokenVerifierOptions> = {},
): AccessTokenVerifier {
  return createAccessTokenVerifier({
    issuer: idp.issuer,
    audience: idp.audience,
    jwksUri: undefined,
    algorithms: ['RS256', 'ES256'],
    clockToleranceSeconds: 5,
    maxTokenLifetimeSeconds: 86_400,
    jwksCooldownMs: 1_000,
    retryBackoffMs: 1_000,
    jwksCacheMaxAgeMs: 600_000,
    jwksStaleIfErrorMs: 3_600_000,
    httpTimeoutMs: 5_000,
    ...overrides,
  });
}
