/**
 * Issue 3: POST /upload is protected as the spec's security says, against a real identity
 * provider (oidc-provider, in-process on loopback) whose key set the API fetches over HTTP.
 *
 * Every refusal asserts the status, the exact `WWW-Authenticate` challenge (RFC 6750 §3), a
 * problem body the spec documents that does not echo the token, and that no classification ran.
 */
import { expect } from 'chai';
import { createSecurityHandlers } from '../../src/auth/security-handler.js';
import { createAccessTokenVerifier, type AccessTokenVerifierOptions } from '../../src/auth/verifier.js';
import { readSpec } from '../../src/spec.js';
import { startIdentityProvider, generateSigningKey, type ClientId, type IdentityProvider } from '../fixtures/identity-provider.js';
import { solidImage, uploadForm } from '../fixtures/images.js';
import { buildImagenetLikeModel, imagenetLikeManifest } from '../fixtures/onnx-models.js';
import {
  claimsFor,
  hmacWithPublicKey,
  malformedTokens,
  signToken,
  signedNonJson,
  tamperedToken,
  unsecuredToken,
} from '../fixtures/tokens.js';
import { expectMatchesSpec, expectProblem, receive, type Received } from '../support/contract.js';
import { startService, type RunningService } from '../support/service.js';

const model = { bytes: buildImagenetLikeModel(), manifest: imagenetLikeManifest };
const challenge = 'Bearer realm="cat-dog-other"';
const invalid = (description: string): string => `${challenge}, error="invalid_token", error_description="${description}"`;
const insufficient = `${challenge}, error="insufficient_scope", scope="get::prediction"`;

/**
 * Verifier settings as `make dev` has them, without the cooldowns: a rotated key, or an issuer
 * that is back, is fetched at the next request, with no sleeping past a cooldown. The cooldowns
 * themselves are tested in test/unit/auth (verifier, issuer).
 */
function verifierOptions(idp: IdentityProvider): AccessTokenVerifierOptions {
  return {
    issuer: idp.issuer,
    audience: idp.audience,
    jwksUri: undefined, // discovered, as with OAUTH2_JWKS_URI unset
    algorithms: ['RS256', 'ES256'],
    clockToleranceSeconds: 5,
    jwksCooldownMs: 0,
    jwksCacheMaxAgeMs: 600_000,
    jwksStaleIfErrorMs: 3_600_000,
    retryBackoffMs: 1_000,
    maxTokenLifetimeSeconds: 86_400,
    httpTimeoutMs: 1_000,
  };
}

async function startProtected(idp: IdentityProvider): Promise<RunningService> {
  const verifier = createAccessTokenVerifier(verifierOptions(idp));
  return startService({ model, securityHandlers: createSecurityHandlers(readSpec(), { verifier }) });
}

describe('POST /upload authorisation (issue 3)', () => {
  let idp: IdentityProvider;
  let svc: RunningService;
  let image: Uint8Array;

  before(async () => {
    idp = await startIdentityProvider();
    svc = await startProtected(idp);
    image = await solidImage('red');
  });
  after(async () => {
    await svc.close();
    await idp.close();
  });

  const upload = (headers: Record<string, string> = {}, query = ''): Promise<Received> =>
    receive(`${svc.url}/upload${query}`, { method: 'POST', body: uploadForm(image), headers });
  const withToken = (token: string, scheme = 'Bearer'): Promise<Received> => upload({ authorization: `${scheme} ${token}` });

  /** Sends `send()` and asserts a refusal without classification and without the token in the answer. */
  async function expectRefused(
    send: () => Promise<Received>,
    status: number,
    code: string,
    wwwAuthenticate: string,
    token?: string,
  ): Promise<Received> {
    const classified = svc.classifications();
    const res = await send();
    expectProblem(res, status, code);
    expectMatchesSpec(svc.api, 'classifyImage', res);
    expect(res.headers.get('www-authenticate')).to.equal(wwwAuthenticate);
    if (token) {
      expect(res.text).not.to.include(token);
      for (const part of token.split('.').filter((p) => p.length > 8)) expect(res.text).not.to.include(part);
    }
    expect(svc.classifications(), 'classifications').to.equal(classified);
    return res;
  }

  /** Asserts a 200 prediction, and that exactly one classification ran. */
  async function expectClassified(send: () => Promise<Received>): Promise<void> {
    const classified = svc.classifications();
    const res = await send();
    expect(res.status, res.text).to.equal(200);
    expectMatchesSpec(svc.api, 'classifyImage', res);
    expect((res.body as { prediction: string }).prediction).to.equal('Cat');
    expect(svc.classifications()).to.equal(classified + 1);
  }

  describe('accepts a real token from the provider', () => {
    const forms: [ClientId, string][] = [
      ['prediction-client', '`scope` (space-separated)'],
      ['scp-client', '`scp` array'],
      ['scp-string-client', '`scp` string'],
      ['permissions-client', '`permissions` array (Auth0)'],
    ];
    for (const [client, form] of forms) {
      it(`with get::prediction in ${form}`, async () => {
        const token = await idp.token(client);
        await expectClassified(() => withToken(token));
      });
    }

    it('with the scheme written in lower case (`bearer`)', async () => {
      const token = await idp.token();
      await expectClassified(() => withToken(token, 'bearer'));
    });
  });

  describe('refuses', () => {
    it('a request without a token: 401 and a challenge without error code', async () => {
      await expectRefused(() => upload(), 401, 'token-missing', challenge);
    });

    it('a large upload without a token: the client still sending it gets the 401, not a reset', async () => {
      // The answer comes before the body is read; the service must then read (and discard) the
      // rest of a body within the upload limit, or a client still sending gets EPIPE/ECONNRESET.
      const { request } = await import('node:http');
      const chunk = Buffer.alloc(64 * 1024, 1);
      const chunks = 96; // 6 MiB, sent a little at a time
      const outcome = await new Promise<{ status: number; error?: string }>((resolve) => {
        let status = 0;
        const req = request(`${svc.url}/upload`, {
          method: 'POST',
          headers: { 'content-type': 'multipart/form-data; boundary=b', 'content-length': String(chunks * chunk.length) },
        });
        req.on('response', (res) => {
          status = res.statusCode ?? 0;
          res.resume();
        });
        req.on('error', (err: NodeJS.ErrnoException) => resolve({ status, error: err.code ?? err.message }));
        req.on('close', () => resolve({ status }));
        let sent = 0;
        const pump = (): void => {
          if (sent === chunks) return void req.end();
          sent++;
          if (req.write(chunk)) setImmediate(pump);
          else req.once('drain', pump);
        };
        pump();
      });
      expect(outcome).to.deep.equal({ status: 401 });
    });

    it('another authentication scheme (Basic) as no token', async () => {
      await expectRefused(() => upload({ authorization: 'Basic cHJlZGljdGlvbi1jbGllbnQ6eA==' }), 401, 'token-missing', challenge);
    });

    it('a token in the query string, even a valid one', async () => {
      const token = await idp.token();
      await expectRefused(
        () => upload({}, `?access_token=${token}`),
        401,
        'token-missing',
        `${challenge}, error="invalid_request", error_description="Access tokens are not accepted in the query string"`,
        token,
      );
    });

    for (const [what, token] of Object.entries(malformedTokens)) {
      it(`a malformed token (${what})`, async () => {
        await expectRefused(() => withToken(token), 401, 'invalid-token', invalid('The access token is malformed'));
      });
    }

    it('a malformed token (payload not JSON, correctly signed)', async () => {
      const token = await signedNonJson(idp.currentKey);
      await expectRefused(() => withToken(token), 401, 'invalid-token', invalid('The access token is malformed'), token);
    });

    it('an Authorization header that is not a bearer token', async () => {
      await expectRefused(
        () => upload({ authorization: 'Bearer two words' }),
        401,
        'invalid-token',
        invalid('The Authorization header does not hold a bearer token'),
      );
    });

    it('alg none', async () => {
      const token = unsecuredToken(claimsFor(idp), idp.currentKey.kid);
      await expectRefused(() => withToken(token), 401, 'invalid-token', invalid('The access token is signed with an algorithm that is not accepted'), token);
    });

    it('HS256 signed with the issuer public key (algorithm confusion)', async () => {
      const token = await hmacWithPublicKey(claimsFor(idp), idp.currentKey);
      await expectRefused(() => withToken(token), 401, 'invalid-token', invalid('The access token is signed with an algorithm that is not accepted'), token);
    });

    it('a real token with a wrong signature (payload altered to add the scope)', async () => {
      const token = tamperedToken(await idp.token('no-scope-client'), { scope: 'get::prediction' });
      await expectRefused(() => withToken(token), 401, 'invalid-token', invalid('The access token signature is invalid'), token);
    });

    it('an unknown kid', async () => {
      const token = await signToken(claimsFor(idp), await generateSigningKey('ES256'));
      await expectRefused(() => withToken(token), 401, 'invalid-token', invalid('The access token is signed with an unknown key'), token);
    });

    it('an expired token', async () => {
      const token = await signToken(claimsFor(idp, { iat: Math.floor(Date.now() / 1000) - 600, exp: Math.floor(Date.now() / 1000) - 60 }), idp.currentKey);
      await expectRefused(() => withToken(token), 401, 'invalid-token', invalid('The access token has expired'), token);
    });

    it('a token valid for longer than the service accepts (exp = 1e20; issue 22), naming the bound', async () => {
      const token = await signToken(claimsFor(idp, { exp: 1e20 }), idp.currentKey);
      await expectRefused(
        () => withToken(token),
        401,
        'invalid-token',
        invalid("The access token's lifetime (exp - iat) is over the 86400 s the service accepts; request a shorter-lived token"),
        token,
      );
    });

    it('a token whose nbf is in the future', async () => {
      const token = await signToken(claimsFor(idp, { nbf: Math.floor(Date.now() / 1000) + 120 }), idp.currentKey);
      await expectRefused(() => withToken(token), 401, 'invalid-token', invalid('The access token is not valid yet'), token);
    });

    it('a token from another issuer', async () => {
      const token = await signToken(claimsFor(idp, { iss: 'https://evil.example/' }), idp.currentKey);
      await expectRefused(() => withToken(token), 401, 'invalid-token', invalid('The access token was issued by another issuer'), token);
    });

    it('a token for another audience', async () => {
      const token = await signToken(claimsFor(idp, { aud: 'https://another-api.example' }), idp.currentKey);
      await expectRefused(() => withToken(token), 401, 'invalid-token', invalid('The access token is meant for another audience'), token);
    });

    it('a real token without the scope: 403 naming the scope', async () => {
      const token = await idp.token('no-scope-client');
      await expectRefused(() => withToken(token), 403, 'insufficient-scope', insufficient, token);
    });

    it('a real token with the scope only in an unrelated claim (`roles`): 403', async () => {
      const token = await idp.token('unrelated-claim-client');
      await expectRefused(() => withToken(token), 403, 'insufficient-scope', insufficient, token);
    });
  });

  it('keeps the public operations public: the spec alone decides what is protected', async () => {
    for (const path of ['/health', '/health/live', '/openapi.json', '/docs']) {
      const res = await receive(`${svc.url}${path}`);
      expect(res.status, path).to.equal(200);
      expect(res.headers.get('www-authenticate'), path).to.equal(null);
    }
  });

  it("serves the issuer's token endpoint as the OAuth2 token URL of its spec once discovered (Swagger UI's Authorize)", async () => {
    const verifier = createAccessTokenVerifier(verifierOptions(idp));
    const docs = await startService({ model, docs: { issuer: idp.issuer, tokenUrl: () => verifier.tokenEndpoint?.() } });
    const oauth2Of = async (): Promise<{ flows: { clientCredentials: { tokenUrl: string } } } | undefined> => {
      const spec = (await receive(`${docs.url}/openapi.json`)).body as {
        components: { securitySchemes: { oauth2?: { flows: { clientCredentials: { tokenUrl: string } } } } };
      };
      return spec.components.securitySchemes.oauth2;
    };
    try {
      // Before discovery the token URL is unknown: no client-credentials flow rather than the
      // committed one (the `make dev` issuer's, not this one).
      expect(await oauth2Of()).to.equal(undefined);
      await verifier.warmUp();
      const discovered = (await (await fetch(`${idp.issuer}/.well-known/openid-configuration`)).json()) as { token_endpoint: string };
      expect((await oauth2Of())?.flows.clientCredentials.tokenUrl).to.equal(discovered.token_endpoint);
      expect((await receive(`${docs.url}/openapi.yaml`)).text).to.contain(`tokenUrl: ${discovered.token_endpoint}`);
    } finally {
      await docs.close();
    }
  });

  it('accepts tokens signed with a rotated key without a restart (one key set refetch)', async () => {
    const before = await idp.token();
    await expectClassified(() => withToken(before));
    const fetched = idp.hits.jwks;
    const rotated = await idp.rotateKeys();
    const after = await idp.token();
    expect((JSON.parse(Buffer.from(after.split('.')[0]!, 'base64url').toString()) as { kid?: string }).kid).to.equal(rotated.kid);
    await expectClassified(() => withToken(after));
    await expectClassified(() => withToken(after));
    await expectClassified(() => withToken(before));
    expect(idp.hits.jwks - fetched).to.equal(1);
  });
});

describe('POST /upload while the token issuer is unreachable (issue 3)', () => {
  let idp: IdentityProvider;
  let svc: RunningService;

  before(async () => {
    idp = await startIdentityProvider();
    svc = await startProtected(idp);
  });
  after(async () => {
    await svc.close();
    await idp.close();
  });

  it('answers 503 auth-unavailable (never 500, never accepted), then recovers when the issuer is back', async () => {
    const token = await idp.token();
    const form = uploadForm(await solidImage('green'));
    await idp.stop();
    for (let i = 0; i < 2; i += 1) {
      const res = await receive(`${svc.url}/upload`, { method: 'POST', body: form, headers: { authorization: `Bearer ${token}` } });
      expectProblem(res, 503, 'auth-unavailable');
      expectMatchesSpec(svc.api, 'classifyImage', res);
      // When the issuer will be asked again: the back-off's wait (1 s, then 2 s by default), never 0.
      expect(Number(res.headers.get('retry-after'))).to.be.within(1, 2);
      expect(res.text).not.to.include(token);
    }
    expect(svc.classifications()).to.equal(0);

    await idp.start();
    const res = await receive(`${svc.url}/upload`, { method: 'POST', body: form, headers: { authorization: `Bearer ${token}` } });
    expect(res.status, res.text).to.equal(200);
    expect((res.body as { prediction: string }).prediction).to.equal('Dog');
    expect(svc.classifications()).to.equal(1);
  });

  it('answers 503 when the key set stops answering (timeout), and 401 for garbage meanwhile', async () => {
    const fresh = await startProtected(idp);
    try {
      const token = await idp.token();
      idp.misbehave('hang');
      const res = await receive(`${fresh.url}/upload`, {
        method: 'POST',
        body: uploadForm(await solidImage('red')),
        headers: { authorization: `Bearer ${token}` },
      });
      expectProblem(res, 503, 'auth-unavailable');
      const garbage = await receive(`${fresh.url}/upload`, { method: 'POST', body: uploadForm(await solidImage('red')), headers: { authorization: 'Bearer abc.def' } });
      expectProblem(garbage, 401, 'invalid-token');
      expect(fresh.classifications()).to.equal(0);
    } finally {
      idp.misbehave('serve');
      await fresh.close();
    }
  });
});
