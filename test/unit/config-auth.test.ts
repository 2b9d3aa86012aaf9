import { expect } from 'chai';
import { ConfigError, loadConfig } from '../../src/config/config.js';

const issuer = 'https://tenant.example.auth0.com/';
const audience = 'https://cat-dog-other/api';

function problemsOf(env: Record<string, string>): readonly string[] {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).to.be.instanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

describe('config: auth settings', () => {
  it('is on by default, with the documented defaults', () => {
    expect(loadConfig({ OAUTH2_ISSUER: issuer, OAUTH2_AUDIENCE: audience }).auth).to.deep.equal({
      enabled: true,
      issuer,
      audience,
      jwksUri: undefined,
      uiClientId: undefined,
      algorithms: ['RS256', 'ES256'],
      clockToleranceSeconds: 5,
      maxTokenAgeSeconds: undefined,
      maxTokenLifetimeSeconds: 86_400,
      jwksCooldownMs: 30_000,
      retryBackoffMs: 1_000,
      jwksCacheMaxAgeMs: 600_000,
      jwksStaleIfErrorMs: 3_600_000,
      httpTimeoutMs: 5_000,
    });
  });

  it('refuses to start without issuer and audience, naming both in one error', () => {
    const error = (() => {
      try {
        loadConfig({});
      } catch (e) {
        return e as Error;
      }
      return undefined;
    })();
    expect(error?.message).to.equal(
      'invalid configuration: OAUTH2_ISSUER is required (or set AUTH_DISABLED=true to serve without tokens); ' +
        'OAUTH2_AUDIENCE is required (or set AUTH_DISABLED=true to serve without tokens)',
    );
  });

  it('is off only with AUTH_DISABLED=true, and then needs no issuer', () => {
    expect(loadConfig({ AUTH_DISABLED: 'true' }).auth).to.deep.equal({ enabled: false });
    expect(problemsOf({ AUTH_DISABLED: 'false' })).to.have.length(2);
  });

  it('refuses symmetric and unsecured algorithms, together with every other problem', () => {
    const problems = problemsOf({
      OAUTH2_ISSUER: 'http://idp.example.com',
      OAUTH2_AUDIENCE: audience,
      OAUTH2_ALGORITHMS: 'RS256, HS256,none',
      OAUTH2_CLOCK_TOLERANCE_SECONDS: '-1',
      OAUTH2_JWKS_URI: 'not a url',
      OAUTH2_MAX_TOKEN_AGE_SECONDS: '0',
    });
    expect(problems).to.have.members([
      'OAUTH2_CLOCK_TOLERANCE_SECONDS must be >= 0',
      'OAUTH2_MAX_TOKEN_AGE_SECONDS must be >= 1',
      'OAUTH2_ISSUER must use https (http is accepted for loopback hosts only)',
      'OAUTH2_JWKS_URI must be an absolute URL',
      'OAUTH2_ALGORITHMS must list asymmetric JWS algorithms only (RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA, Ed25519); refused: HS256, none',
    ]);
  });

  it('accepts plain http on loopback (development and tests) and an explicit key set URL', () => {
    const { auth } = loadConfig({
      OAUTH2_ISSUER: 'http://127.0.0.1:9000',
      OAUTH2_AUDIENCE: audience,
      OAUTH2_JWKS_URI: 'http://127.0.0.1:9000/jwks',
      OAUTH2_ALGORITHMS: 'ES256',
    });
    expect(auth).to.include({ enabled: true, jwksUri: 'http://127.0.0.1:9000/jwks' });
  });

  it('reads the maximum token lifetime, the retry back-off and the stale-if-error bound, and refuses values out of range', () => {
    const { auth } = loadConfig({
      OAUTH2_ISSUER: issuer,
      OAUTH2_AUDIENCE: audience,
      OAUTH2_MAX_TOKEN_LIFETIME_SECONDS: '3600',
      OAUTH2_RETRY_BACKOFF_MS: '250',
      OAUTH2_JWKS_STALE_IF_ERROR_MS: '0',
    });
    expect(auth).to.include({ maxTokenLifetimeSeconds: 3600, retryBackoffMs: 250, jwksStaleIfErrorMs: 0 });
    expect(problemsOf({
      OAUTH2_ISSUER: issuer,
      OAUTH2_AUDIENCE: audience,
      OAUTH2_MAX_TOKEN_LIFETIME_SECONDS: '0',
      OAUTH2_RETRY_BACKOFF_MS: '10',
      OAUTH2_JWKS_STALE_IF_ERROR_MS: '-1',
    })).to.have.members([
      'OAUTH2_MAX_TOKEN_LIFETIME_SECONDS must be >= 1',
      'OAUTH2_RETRY_BACKOFF_MS must be >= 100',
      'OAUTH2_JWKS_STALE_IF_ERROR_MS must be >= 0',
    ]);
  });

  it('reads an optional maximum token age', () => {
    expect(loadConfig({ OAUTH2_ISSUER: issuer, OAUTH2_AUDIENCE: audience, OAUTH2_MAX_TOKEN_AGE_SECONDS: '3600' }).auth)
      .to.include({ maxTokenAgeSeconds: 3600 });
  });
});
