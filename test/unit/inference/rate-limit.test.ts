/**
 * Per-client rate limits: a token bucket per client, in images; a request is let in while its
 * client has an image left, and may leave it in debt; the refusal says when to come back, in the
 * IETF draft's RateLimit fields.
 */
import { expect } from 'chai';
import { RateLimited } from '../../../src/errors.js';
import { createRateLimiter } from '../../../src/inference/rate-limit.js';

/** A limiter on a clock the test moves. */
function limiter(imagesPerSecond: number, burstImages: number) {
  let now = 0;
  const limits = createRateLimiter({ imagesPerSecond, burstImages, now: () => now });
  const refusal = (client: string, cost = 1): RateLimited | undefined => {
    try {
      limits.admit(client, cost);
      return undefined;
    } catch (err) {
      expect(err).to.be.instanceOf(RateLimited);
      return err as RateLimited;
    }
  };
  return { limits, refusal, advance: (ms: number) => (now += ms) };
}

describe('rate limits', () => {
  it('lets a client send its burst at once, then refuses it with 429, Retry-After and the RateLimit fields', () => {
    const { refusal } = limiter(10, 20);
    for (let i = 0; i < 20; i++) expect(refusal('a'), `image ${i}`).to.equal(undefined);
    const refused = refusal('a')!;
    expect(refused.status).to.equal(429);
    expect(refused.code).to.equal('rate-limited');
    expect(refused.headers).to.deep.equal({
      'Retry-After': '1',
      'RateLimit-Policy': '"images";q=20;w=2',
      'RateLimit': '"images";r=0;t=1',
    });
    expect(refused.extensions).to.deep.equal({ 'violated-policies': ['images'] });
  });

  it('refills at the rate: a client that keeps to it is never refused', () => {
    const { refusal, advance } = limiter(10, 5);
    for (let i = 0; i < 100; i++) {
      expect(refusal('a'), `image ${i}`).to.equal(undefined);
      advance(100);
    }
  });

  it('keeps each client apart', () => {
    const { refusal } = limiter(1, 2);
    expect([refusal('a'), refusal('a')]).to.deep.equal([undefined, undefined]);
    expect(refusal('a')).to.be.instanceOf(RateLimited);
    expect(refusal('b')).to.equal(undefined);
  });

  it('lets a batch in on one image left and takes the rest on credit: the client waits until it is paid back', () => {
    const { limits, refusal, advance } = limiter(10, 16);
    expect(refusal('a')).to.equal(undefined);
    limits.charge('a', 63);
    // 16 - 64 = -48: 4.9 s until one image is there again.
    const refused = refusal('a')!;
    expect(refused.headers['Retry-After']).to.equal('5');
    advance(4_800);
    expect(refusal('a')).to.be.instanceOf(RateLimited);
    advance(200);
    expect(refusal('a')).to.equal(undefined);
  });

  it('costs nothing to refuse: a client retrying at once does not dig itself deeper', () => {
    const { refusal, advance } = limiter(10, 1);
    expect(refusal('a')).to.equal(undefined);
    for (let i = 0; i < 1_000; i++) expect(refusal('a')).to.be.instanceOf(RateLimited);
    advance(100);
    expect(refusal('a')).to.equal(undefined);
  });

  it('forgets the clients whose bucket is full again', () => {
    const { limits, refusal, advance } = limiter(100, 10);
    for (let c = 0; c < 50; c++) expect(refusal(`client-${c}`)).to.equal(undefined);
    expect(limits.tracked).to.equal(50);
    advance(11_000);
    expect(refusal('late')).to.equal(undefined);
    expect(limits.tracked).to.equal(1);
  });

  it('lets everything in at 0 images per second', () => {
    const { limits, refusal } = limiter(0, 1);
    for (let i = 0; i < 1_000; i++) expect(refusal('a', 64)).to.equal(undefined);
    limits.charge('a', 1e9);
    expect(refusal('a')).to.equal(undefined);
    expect(limits.tracked).to.equal(0);
  });
});
