/**
 * The issuer's key set under attack or outage (issue 17): asked for at most once per cooldown
 * whatever it answers, cached keys still used while fresh, and an oversized answer treated as
 * the issuer being unavailable. Against the real identity provider, or a real local HTTP server
 * serving a key set, with an injected clock.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { AuthUnavailable, InvalidToken } from '../../../src/errors.js';
import { KEY_SET_MAX_BYTES } from '../../../src/auth/key-set-fetch.js';
import { createAccessTokenVerifier, type AccessTokenVerifierOptions } from '../../../src/auth/verifier.js';
import { generateSigningKey, startIdentityProvider, type IdentityProvider, type SigningKey } from '../../fixtures/identity-provider.js';
import { claimsFor, signToken } from '../../fixtures/tokens.js';

const COOLDOWN_MS = 30_000;

/** A clock the test moves. */
function manualClock(): { now: () => number; advance: (ms: number) => void } {
  let at = Date.now();
  return { now: () => at, advance: (ms) => (at += ms) };
}

function options(issuer: string, jwksUri: string | undefined, now: () => number): AccessTokenVerifierOptions {
  return {
    issuer,
    audience: 'https://cat-dog-other/api',
    jwksUri,
    algorithms: ['ES256', 'RS256'],
    clockToleranceSeconds: 5,
    jwksCooldownMs: COOLDOWN_MS,
    jwksCacheMaxAgeMs: 600_000,
    httpTimeoutMs: 2_000,
    now,
  };
}

async function outcome(promise: Promise<unknown>): Promise<unknown> {
  try {
    return await promise;
  } catch (error) {
    return error;
  }
}

describe('auth: the key set while the issuer fails (issue 17)', () => {
  let idp: IdentityProvider;
  beforeEach(async () => {
    idp = await startIdentityProvider();
  });
  afterEach(() => idp.close());

  it('asks a failing issuer at most once per cooldown, however many tokens arrive, and again after it', async () => {
    const clock = manualClock();
    const verifier = createAccessTokenVerifier(options(idp.issuer, idp.jwksUri, clock.now));
    const token = await idp.token();
    const forged = await signToken(claimsFor(idp), await generateSigningKey());
    idp.misbehave('fail');
    for (let i = 0; i < 20; i++) {
      expect(await outcome(verifier.verify(i % 2 ? token : forged))).to.be.instanceOf(AuthUnavailable);
    }
    expect(idp.hits.jwks).to.equal(1);
    clock.advance(COOLDOWN_MS - 1);
    expect(await outcome(verifier.verify(token))).to.be.instanceOf(AuthUnavailable);
    expect(idp.hits.jwks).to.equal(1);
    clock.advance(1);
    expect(await outcome(verifier.verify(token))).to.be.instanceOf(AuthUnavailable);
    expect(idp.hits.jwks).to.equal(2);
    // Back: the first request after the cooldown gets the keys.
    idp.misbehave('serve');
    clock.advance(COOLDOWN_MS);
    expect((await verifier.verify(token)).subject).to.equal('prediction-client');
    expect(idp.hits.jwks).to.equal(3);
  });

  it('asks a failing issuer for its discovery document at most once per cooldown, and again after it', async () => {
    const clock = manualClock();
    const verifier = createAccessTokenVerifier(options(idp.issuer, undefined, clock.now));
    const token = await idp.token();
    idp.misbehave('fail');
    for (let i = 0; i < 10; i++) expect(await outcome(verifier.verify(token))).to.be.instanceOf(AuthUnavailable);
    expect([idp.hits.discovery, idp.hits.jwks]).to.deep.equal([1, 0]);
    clock.advance(COOLDOWN_MS);
    idp.misbehave('serve');
    expect((await verifier.verify(token)).subject).to.equal('prediction-client');
    expect([idp.hits.discovery, idp.hits.jwks]).to.deep.equal([2, 1]);
  });

  it('keeps verifying tokens whose keys it has, and answers unknown keys from the cache within the cooldown', async () => {
    const clock = manualClock();
    const verifier = createAccessTokenVerifier(options(idp.issuer, idp.jwksUri, clock.now));
    const token = await idp.token();
    await verifier.verify(token);
    expect(idp.hits.jwks).to.equal(1);
    idp.misbehave('fail');
    const forged = await signToken(claimsFor(idp), await generateSigningKey());

    // Within the cooldown of the last answer: the same keys, no request.
    for (let i = 0; i < 10; i++) {
      expect((await verifier.verify(token)).subject).to.equal('prediction-client');
      const refused = await outcome(verifier.verify(forged));
      expect(refused).to.be.instanceOf(InvalidToken);
      expect((refused as InvalidToken).detail).to.equal('The access token is signed with an unknown key');
    }
    expect(idp.hits.jwks).to.equal(1);

    // After it, an unknown key asks once; the failure then stands for a cooldown.
    clock.advance(COOLDOWN_MS);
    for (let i = 0; i < 10; i++) expect(await outcome(verifier.verify(forged))).to.be.instanceOf(AuthUnavailable);
    expect(idp.hits.jwks).to.equal(2);
    // Known keys are still fresh: still verified.
    expect((await verifier.verify(token)).subject).to.equal('prediction-client');
  });
});

describe('auth: the size of the key set (issue 17)', () => {
  let server: http.Server;
  let url: string;
  /** What the server answers on /jwks: a body, or a stream of `streamBytes` bytes. */
  let answer: { body?: string; streamBytes?: number; declareLength?: boolean };
  /** Bytes the server managed to write before the client hung up. */
  let written = 0;

  before(async () => {
    server = http.createServer((_req, res) => {
      if (answer.body !== undefined) {
        res.writeHead(200, { 'content-type': 'application/json' }).end(answer.body);
        return;
      }
      // A key set that never stops: `{"keys":[],"pad":"xxxx...`, in 64 KiB chunks.
      const total = answer.streamBytes!;
      res.writeHead(200, { 'content-type': 'application/json', ...(answer.declareLength ? { 'content-length': String(total) } : {}) });
      const chunk = Buffer.alloc(64 * 1024, 'x');
      let closed = false;
      res.on('close', () => (closed = true));
      res.write('{"keys":[],"pad":"');
      const pump = (): void => {
        while (!closed && written < total) {
          written += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        if (!closed) res.end('"}');
      };
      pump();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  beforeEach(() => {
    written = 0;
  });

  const verifierFor = () => createAccessTokenVerifier(options(url, `${url}/jwks`, Date.now));
  /** A token of this server's issuer, signed with `key`. */
  const tokenSignedBy = async (key: SigningKey) => {
    const now = Math.floor(Date.now() / 1000);
    return signToken({ iss: url, aud: 'https://cat-dog-other/api', sub: 'forging-client', iat: now, exp: now + 300 }, key);
  };

  it('accepts a key set padded up to the limit', async () => {
    const key = await generateSigningKey();
    const keys = JSON.stringify({ keys: [key.publicJwk] });
    answer = { body: `${keys.slice(0, -1)},"pad":"${'x'.repeat(KEY_SET_MAX_BYTES - keys.length - 10)}"}` };
    expect((await verifierFor().verify(await tokenSignedBy(key))).subject).to.equal('forging-client');
  });

  it('treats a larger one as the issuer being unavailable (503), and stops reading it', async () => {
    const token = await tokenSignedBy(await generateSigningKey());
    answer = { streamBytes: 50 * 1024 * 1024 };
    const refused = await outcome(verifierFor().verify(token));
    expect(refused).to.be.instanceOf(AuthUnavailable);
    expect(String((refused as AuthUnavailable).cause)).to.match(/over the limit of 262144 bytes/);
    // Loopback socket buffers take a few MiB; the other 40-odd never left the server.
    expect(written).to.be.below(16 * 1024 * 1024);
  });

  it('refuses a declared Content-Length over the limit before reading the body', async () => {
    const token = await tokenSignedBy(await generateSigningKey());
    answer = { streamBytes: 50 * 1024 * 1024, declareLength: true };
    const refused = await outcome(verifierFor().verify(token));
    expect(refused).to.be.instanceOf(AuthUnavailable);
    expect(String((refused as AuthUnavailable).cause)).to.match(/is 52428\d+ bytes, over the limit/);
  });
});
