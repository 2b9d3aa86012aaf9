import { expect } from 'chai';
import type { Context, Document } from 'openapi-backend';
import { AuthUnavailable, InsufficientScope, InvalidToken, TokenMissing } from '../../../src/errors.js';
import {
  createSecurityHandlers,
  requiredScopes,
  unauthorizedError,
} from '../../../src/auth/security-handler.js';
import { createAccessTokenVerifier, type AccessTokenVerifier } from '../../../src/auth/verifier.js';
import { startIdentityProvider, type IdentityProvider } from '../../fixtures/identity-provider.js';

/** A spec with the two schemes of ours; the operation's security is what each test passes. */
const document = {
  openapi: '3.1.0',
  info: { title: 't', version: '1' },
  paths: {},
  components: {
    securitySchemes: {
      oauth2: { type: 'oauth2', flows: { clientCredentials: { tokenUrl: 'https://idp/token', scopes: { 'get::prediction': '' } } } },
      bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
    },
  },
} as Document;

function contextFor(security: Record<string, string[]>[], headers: Record<string, string> = {}, query = {}): Context {
  return { operation: { security }, request: { headers, query } } as unknown as Context;
}

async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

describe('auth/security-handler', () => {
  let idp: IdentityProvider;
  let verifier: AccessTokenVerifier;
  let verifications: number;

  before(async () => {
    idp = await startIdentityProvider();
    const real = createAccessTokenVerifier({
      issuer: idp.issuer,
      audience: idp.audience,
      jwksUri: idp.jwksUri,
      algorithms: ['ES256'],
      clockToleranceSeconds: 5,
      jwksCooldownMs: 30_000,
      jwksCacheMaxAgeMs: 600_000,
      jwksStaleIfErrorMs: 3_600_000,
      retryBackoffMs: 1_000,
      maxTokenLifetimeSeconds: 86_400,
      httpTimeoutMs: 2_000,
    });
    verifier = {
      verify: (token) => {
        verifications += 1;
        return real.verify(token);
      },
      warmUp: () => real.warmUp(),
    };
  });
  beforeEach(() => {
    verifications = 0;
  });
  after(() => idp.close());

  it('creates one handler per security scheme of the spec', () => {
    expect(Object.keys(createSecurityHandlers(document, { verifier }))).to.deep.equal(['oauth2', 'bearerAuth']);
  });

  it('refuses at start-up a scheme it cannot enforce', () => {
    const withApiKey = {
      ...document,
      components: { securitySchemes: { key: { type: 'apiKey', in: 'header', name: 'x-key' } } },
    } as Document;
    expect(() => createSecurityHandlers(withApiKey, { verifier })).to.throw(/"key" is not supported/);
  });

  it('reads the required scopes of each scheme from the operation', () => {
    const context = contextFor([{ oauth2: ['a', 'b'] }, { bearerAuth: ['c'] }, { oauth2: [] }]);
    expect(requiredScopes(context, 'oauth2')).to.deep.equal([['a', 'b'], []]);
    expect(requiredScopes(context, 'bearerAuth')).to.deep.equal([['c']]);
  });

  it('resolves to the verified token when the scope the spec names is granted', async () => {
    const { oauth2 } = createSecurityHandlers(document, { verifier });
    const principal = await oauth2!(contextFor([{ oauth2: ['get::prediction'] }], { authorization: `Bearer ${await idp.token()}` }));
    expect(principal).to.include({ anonymous: false, subject: 'prediction-client' });
  });

  it('enforces whatever scope the spec names: a scope added to the operation is required', async () => {
    const { oauth2 } = createSecurityHandlers(document, { verifier });
    const context = contextFor([{ oauth2: ['get::prediction', 'delete::everything'] }], {
      authorization: `Bearer ${await idp.token()}`,
    });
    const error = (await rejectionOf(oauth2!(context))) as InsufficientScope;
    expect(error).to.be.instanceOf(InsufficientScope);
    expect(error.headers['WWW-Authenticate']).to.equal(
      'Bearer realm="cat-dog-other", error="insufficient_scope", scope="get::prediction delete::everything"',
    );
  });

  it('verifies the token once per request for all schemes', async () => {
    const handlers = createSecurityHandlers(document, { verifier });
    const context = contextFor([{ oauth2: ['get::prediction'] }, { bearerAuth: ['get::prediction'] }], {
      authorization: `Bearer ${await idp.token()}`,
    });
    await Promise.all([handlers.oauth2!(context), handlers.bearerAuth!(context)]);
    expect(verifications).to.equal(1);
  });

  it('throws TokenMissing without a token, and lets every request through when auth is disabled', async () => {
    const context = contextFor([{ oauth2: ['get::prediction'] }]);
    expect(await rejectionOf(createSecurityHandlers(document, { verifier }).oauth2!(context))).to.be.instanceOf(TokenMissing);
    expect(await createSecurityHandlers(document, { verifier: undefined }).oauth2!(context)).to.deep.equal({ anonymous: true });
    expect(verifications).to.equal(0);
  });

  it('warns about an issuer outage once per interval, with the reason on one line and no stack (issue 17)', async () => {
    const failing = await startIdentityProvider();
    try {
      let at = Date.now();
      const now = () => at;
      const down = createAccessTokenVerifier({
        issuer: failing.issuer,
        audience: failing.audience,
        jwksUri: failing.jwksUri,
        algorithms: ['ES256'],
        clockToleranceSeconds: 5,
        jwksCooldownMs: 30_000,
        jwksCacheMaxAgeMs: 600_000,
        jwksStaleIfErrorMs: 3_600_000,
        retryBackoffMs: 1_000,
        maxTokenLifetimeSeconds: 86_400,
        httpTimeoutMs: 2_000,
        now,
      });
      const token = await failing.token();
      failing.misbehave('fail');
      const warnings: { fields: Record<string, unknown>; message: string }[] = [];
      const log = { warn: (fields: Record<string, unknown>, message: string) => void warnings.push({ fields, message }) };
      const { oauth2 } = createSecurityHandlers(document, { verifier: down, outageWarningIntervalMs: 10_000, now });
      const request = () =>
        rejectionOf(oauth2!(contextFor([{ oauth2: ['get::prediction'] }], { authorization: `Bearer ${token}` }), { state: { log } as never }));
      for (let i = 0; i < 30; i++) expect(await request()).to.be.instanceOf(AuthUnavailable);
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings).to.have.length(1);
      expect(warnings[0]!.message).to.equal('token issuer unavailable: answering 503');
      expect(warnings[0]!.fields).to.deep.equal({ reason: 'the key set answered HTTP 500', held: 0 });
      at += 10_000;
      await request();
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings.map((w) => w.fields.held)).to.deep.equal([0, 29]);
      expect(JSON.stringify(warnings)).not.to.match(/stack|at .*\.ts:/);
    } finally {
      await failing.close();
    }
  });

  describe('unauthorizedError', () => {
    const realm = 'cat-dog-other';
    it('prefers issuer outage, then missing, then invalid token, then scope', () => {
      const scope = new InsufficientScope(realm, ['x']);
      const invalid = new InvalidToken(realm, 'The access token has expired');
      const down = new AuthUnavailable();
      expect(unauthorizedError({ security: { a: { error: scope }, b: { error: invalid } } })).to.equal(invalid);
      expect(unauthorizedError({ security: { a: { error: invalid }, b: { error: down } } })).to.equal(down);
      expect(unauthorizedError({ security: { a: { error: scope } } })).to.equal(scope);
    });
    it('returns an unexpected error as is, so that it renders as a logged 500', () => {
      const bug = new TypeError('bug');
      expect(unauthorizedError({ security: { a: { error: new InsufficientScope(realm, ['x']) }, b: { error: bug } } })).to.equal(bug);
    });
    it('falls back to TokenMissing when no handler said why', () => {
      expect(unauthorizedError({ security: { a: undefined } })).to.be.instanceOf(TokenMissing);
    });
  });
});
