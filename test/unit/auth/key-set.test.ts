/**
 * The issuer's key set under attack or outage (issues 17 and 22): asked for on a schedule (a
 * growing back-off after failures, the cooldown after a success) whatever the traffic, one request
 * at a time; keys kept through an outage up to the stale-if-error bound; an oversized answer
 * treated as the issuer being unavailable. Against the real identity provider, or a real local
 * HTTP server serving a key set, with an injected clock.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { AuthUnavailable, InvalidToken } from '../../../src/errors.js';
import type { IssuerStatus } from '../../../src/auth/key-set-cache.js';
import { KEY_SET_MAX_BYTES } from '../../../src/auth/key-set-fetch.js';
import { createAccessTokenVerifier, type AccessTokenVerifierOptions } from '../../../src/auth/verifier.js';
import { generateSigningKey, startIdentityProvider, type IdentityProvider, type SigningKey } from '../../fixtures/identity-provider.js';
import { claimsFor, signToken } from '../../fixtures/tokens.js';

const COOLDOWN_MS = 30_000;
const BACKOFF_MS = 1_000;
const MAX_AGE_MS = 600_000;
const STALE_IF_ERROR_MS = 3_600_000;

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
    maxTokenLifetimeSeconds: 86_400,
    jwksCooldownMs: COOLDOWN_MS,
    retryBackoffMs: BACKOFF_MS,
    jwksCacheMaxAgeMs: MAX_AGE_MS,
    jwksStaleIfErrorMs: STALE_IF_ERROR_MS,
    httpTimeoutMs: 2_000,
    now,
  };
}

/** A token of `idp`, signed with its current key, issued at `atMs` (the test's clock) for 5 minutes. */
async function tokenAt(idp: IdentityProvider, atMs: number): Promise<string> {
  const iat = Math.floor(atMs / 1000);
  return signToken(claimsFor(idp, { iat, exp: iat + 300 }), idp.currentKey);
}

async function outcome(promise: Promise<unknown>): Promise<unknown> {
  try {
    return await promise;
  } catch (error) {
    return error;
  }
}

describe('auth: the key set while the issuer fails (issues 17, 22)', () => {
  let idp: IdentityProvider;
  beforeEach(async () => {
    idp = await startIdentityProvider();
  });
  afterEach(() => idp.close());

  it('asks a failing issuer on a back-off growing from 1 s to the cooldown, never once per token', async () => {
    const clock = manualClock();
    const verifier = createAccessTokenVerifier(options(idp.issuer, idp.jwksUri, clock.now));
    const token = await idp.token();
    const forged = await signToken(claimsFor(idp), await generateSigningKey());
    idp.misbehave('fail');
    for (let i = 0; i < 20; i++) {
      expect(await outcome(verifier.verify(i % 2 ? token : forged))).to.be.instanceOf(AuthUnavailable);
    }
    expect(idp.hits.jwks).to.equal(1);
    // Each step: nothing a millisecond before it, however many tokens; one request at it.
    for (const [step, waitMs] of [1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000].entries()) {
      clock.advance(waitMs - 1);
      for (let i = 0; i < 5; i++) expect(await outcome(verifier.verify(i % 2 ? token : forged))).to.be.instanceOf(AuthUnavailable);
      expect(idp.hits.jwks, `before step ${step}`).to.equal(step + 1);
      clock.advance(1);
      for (let i = 0; i < 5; i++) expect(await outcome(verifier.verify(i % 2 ? token : forged))).to.be.instanceOf(AuthUnavailable);
      expect(idp.hits.jwks, `at step ${step}`).to.equal(step + 2);
    }
    // Back: the first token after the current step gets the keys.
    idp.misbehave('serve');
    clock.advance(COOLDOWN_MS);
    expect((await verifier.verify(token)).subject).to.equal('prediction-client');
    expect(idp.hits.jwks).to.equal(9);
  });

  it('verifies tokens a second after an issuer that failed is back, not a cooldown later (issue 22)', async () => {
    const clock = manualClock();
    const verifier = createAccessTokenVerifier(options(idp.issuer, idp.jwksUri, clock.now));
    const token = await idp.token();
    idp.misbehave('fail');
    expect(await outcome(verifier.verify(token))).to.be.instanceOf(AuthUnavailable);
    idp.misbehave('serve');
    clock.advance(BACKOFF_MS);
    expect((await verifier.verify(token)).subject).to.equal('prediction-client');
    expect(idp.hits.jwks).to.equal(2);
  });

  it('answers Retry-After with the back-off: when the issuer will be asked again, not a fixed 5 s', async () => {
    const clock = manualClock();
    const verifier = createAccessTokenVerifier(options(idp.issuer, idp.jwksUri, clock.now));
    const token = await idp.token();
    idp.misbehave('fail');
    const retryAfter = async (): Promise<number> => {
      const refused = await outcome(verifier.verify(token));
      expect(refused).to.be.instanceOf(AuthUnavailable);
      return Number((refused as AuthUnavailable).headers['Retry-After']);
    };
    expect(await retryAfter()).to.equal(Math.ceil(BACKOFF_MS / 1000));
    clock.advance(BACKOFF_MS);
    // The second failure doubles the wait.
    expect(await retryAfter()).to.equal(Math.ceil((2 * BACKOFF_MS) / 1000));
    clock.advance(2 * BACKOFF_MS - 1);
    // A millisecond before the next attempt: at least a second, never 0.
    expect(await retryAfter()).to.equal(1);
  });

  it('retries a failed discovery on the same back-off, and recovers', async () => {
    const clock = manualClock();
    const verifier = createAccessTokenVerifier(options(idp.issuer, undefined, clock.now));
    const token = await idp.token();
    idp.misbehave('fail');
    for (let i = 0; i < 10; i++) expect(await outcome(verifier.verify(token))).to.be.instanceOf(AuthUnavailable);
    expect([idp.hits.discovery, idp.hits.jwks]).to.deep.equal([1, 0]);
    clock.advance(BACKOFF_MS - 1);
    expect(await outcome(verifier.verify(token))).to.be.instanceOf(AuthUnavailable);
    expect(idp.hits.discovery).to.equal(1);
    clock.advance(1);
    idp.misbehave('serve');
    expect((await verifier.verify(token)).subject).to.equal('prediction-client');
    expect([idp.hits.discovery, idp.hits.jwks]).to.deep.equal([2, 1]);
  });

  it('sends one request for every token that arrives while it runs', async () => {
    const verifier = createAccessTokenVerifier(options(idp.issuer, undefined, manualClock().now));
    const token = await idp.token();
    const forged = await signToken(claimsFor(idp), await generateSigningKey());
    const outcomes = await Promise.all(Array.from({ length: 20 }, (_, i) => outcome(verifier.verify(i % 2 ? token : forged))));
    expect(outcomes.filter((o) => o instanceof InvalidToken)).to.have.length(10);
    expect([idp.hits.discovery, idp.hits.jwks]).to.deep.equal([1, 1]);
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

    // After it, an unknown key asks once; the failure then stands for the back-off: nobody can
    // tell a key rotated in from a forged one (503).
    clock.advance(COOLDOWN_MS);
    for (let i = 0; i < 10; i++) expect(await outcome(verifier.verify(forged))).to.be.instanceOf(AuthUnavailable);
    expect(idp.hits.jwks).to.equal(2);
    // Known keys are still fresh: still verified.
    expect((await verifier.verify(token)).subject).to.equal('prediction-client');
  });

  it('keeps the keys beyond their maximum age while the issuer is down, up to the stale-if-error bound, then drops them (issue 22)', async () => {
    const clock = manualClock();
    const verifier = createAccessTokenVerifier(options(idp.issuer, idp.jwksUri, clock.now));
    const forged = await signToken(claimsFor(idp), await generateSigningKey());
    const fetchedAt = clock.now();
    await verifier.verify(await tokenAt(idp, clock.now()));
    idp.misbehave('fail');

    // Old, the issuer failing: tokens are verified with the keys the service has while the
    // refresh fails in the background; a key they lack cannot be told from a forged one meanwhile.
    clock.advance(MAX_AGE_MS);
    expect((await verifier.verify(await tokenAt(idp, clock.now()))).subject).to.equal('forging-client');
    await outcome(verifier.warmUp()); // joins the background refresh
    expect(idp.hits.jwks).to.equal(2);
    expect(await outcome(verifier.verify(forged))).to.be.instanceOf(AuthUnavailable);

    // Up to the bound, whatever the issuer answers, asked once per step of the back-off.
    clock.advance(fetchedAt + MAX_AGE_MS + STALE_IF_ERROR_MS - 1 - clock.now());
    expect((await verifier.verify(await tokenAt(idp, clock.now()))).subject).to.equal('forging-client');
    await outcome(verifier.warmUp());
    expect(idp.hits.jwks).to.equal(3);

    // Beyond it the keys are dropped: 503, never an acceptance with keys that old.
    clock.advance(1);
    expect(await outcome(verifier.verify(await tokenAt(idp, clock.now())))).to.be.instanceOf(AuthUnavailable);
    expect(idp.hits.jwks).to.equal(3);

    // The issuer back: the next step of the back-off fetches them again.
    idp.misbehave('serve');
    clock.advance(2 * BACKOFF_MS);
    expect((await verifier.verify(await tokenAt(idp, clock.now()))).subject).to.equal('forging-client');
    expect(idp.hits.jwks).to.equal(4);
  });

  it('drops the keys at their maximum age when stale-if-error is 0', async () => {
    const clock = manualClock();
    const verifier = createAccessTokenVerifier({ ...options(idp.issuer, idp.jwksUri, clock.now), jwksStaleIfErrorMs: 0 });
    await verifier.verify(await tokenAt(idp, clock.now()));
    idp.misbehave('fail');
    clock.advance(MAX_AGE_MS);
    expect(await outcome(verifier.verify(await tokenAt(idp, clock.now())))).to.be.instanceOf(AuthUnavailable);
    expect(idp.hits.jwks).to.equal(2);
  });

  it('does not hold tokens whose keys it has while the refresh of old keys hangs', async () => {
    const clock = manualClock();
    const statuses: IssuerStatus[] = [];
    const verifier = createAccessTokenVerifier({
      ...options(idp.issuer, idp.jwksUri, clock.now),
      httpTimeoutMs: 300,
      onIssuerStatus: (s) => statuses.push(s),
    });
    await verifier.verify(await tokenAt(idp, clock.now()));
    idp.misbehave('hang');
    clock.advance(MAX_AGE_MS);
    // Verified before the hanging refresh has given up (it reports the failure when it does).
    expect((await verifier.verify(await tokenAt(idp, clock.now()))).subject).to.equal('forging-client');
    expect(statuses.map((s) => s.reachable)).to.deep.equal([true]);
    await outcome(verifier.warmUp());
    expect(statuses.map((s) => s.reachable)).to.deep.equal([true, false]);
  });

  it("reports each change of the issuer's status once: reached, unreachable (when it retries, how long the keys last), reachable again", async () => {
    const clock = manualClock();
    const statuses: IssuerStatus[] = [];
    const verifier = createAccessTokenVerifier({ ...options(idp.issuer, undefined, clock.now), onIssuerStatus: (s) => statuses.push(s) });
    await verifier.verify(await tokenAt(idp, clock.now()));
    idp.misbehave('fail');
    clock.advance(COOLDOWN_MS);
    for (const waitMs of [0, 1_000, 2_000, 4_000]) {
      clock.advance(waitMs);
      const forged = await signToken(claimsFor(idp), await generateSigningKey());
      expect(await outcome(verifier.verify(forged))).to.be.instanceOf(AuthUnavailable);
    }
    // Back, with a key rotated in: its first token makes the service ask.
    idp.misbehave('serve');
    await idp.rotateKeys();
    clock.advance(8_000);
    await verifier.verify(await tokenAt(idp, clock.now()));
    expect(idp.hits.jwks).to.equal(6);

    expect(statuses).to.have.length(3);
    expect(statuses[0]).to.deep.equal({ reachable: true, unreachableForMs: undefined });
    const down = statuses[1] as Extract<IssuerStatus, { reachable: false }>;
    expect(down).to.include({ reachable: false, retryInMs: BACKOFF_MS, keysUsableForMs: MAX_AGE_MS + STALE_IF_ERROR_MS - COOLDOWN_MS });
    expect(String(down.error)).to.include('the key set answered HTTP 500');
    expect(statuses[2]).to.deep.equal({ reachable: true, unreachableForMs: 15_000 });
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
