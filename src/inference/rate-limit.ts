/**
 * Per-client rate limits: a token bucket per client (a token's subject, or an address), counted in
 * images: it holds at most `burstImages` and refills at `imagesPerSecond`.
 *
 * A request is let in while its client's bucket holds at least one image, decided before its body
 * is read ({@link RateLimiter.admit}); what it costs is taken then, or once known (the images of a
 * batch, {@link RateLimiter.charge}), and may leave the bucket in debt: the client's next request is
 * then refused until the debt is paid back. A refusal costs nothing. So a client's images over any
 * stretch of time are at most `burstImages` plus `imagesPerSecond` per second plus what its
 * requests in flight held at once, however often it retries; and the refusal never waits for, nor
 * reads, the request's body.
 *
 * ```ts
 * const limits = createRateLimiter({ imagesPerSecond: 1000, burstImages: 1000 });
 * limits.admit('token:alice', 1);        // or throws RateLimited (429, Retry-After, RateLimit)
 * limits.charge('token:alice', 63);      // the rest of a batch of 64
 * ```
 */
import { RateLimited } from '../errors.js';

/** The limits, from the configuration (`RATE_LIMIT_IMAGES_PER_SECOND`, `RATE_LIMIT_BURST_IMAGES`). */
export interface RateLimitOptions {
  /** Refill rate of each client's bucket; 0 turns the limits off. */
  readonly imagesPerSecond: number;
  /** Capacity of each client's bucket: what a client that kept still may send at once. */
  readonly burstImages: number;
  /** Clock in milliseconds, for tests; default `performance.now`. */
  readonly now?: () => number;
}

/** Every client's bucket. */
export interface RateLimiter {
  /**
   * Lets a request of `client` in, and takes `cost` images from its bucket, if the bucket holds
   * at least one image (a bucket in debt refuses).
   *
   * @throws {@link RateLimited} otherwise, with the seconds until it holds one again.
   */
  admit(client: string, cost: number): void;
  /** Takes `cost` more images from `client`'s bucket (the rest of a batch once its size is known); never refuses. */
  charge(client: string, cost: number): void;
  /** Clients with a bucket not full now (for tests: the memory the limits hold). */
  readonly tracked: number;
}

interface Bucket {
  images: number;
  /** When `images` was last brought up to date, in milliseconds. */
  at: number;
}

/** Least time between two sweeps of the full buckets, in milliseconds. */
const SWEEP_INTERVAL_MS = 10_000;

/** The policy's name in the `RateLimit-Policy` and `RateLimit` fields. */
const RATE_LIMIT_POLICY = 'images';

/** Creates the buckets; with `imagesPerSecond` 0, a limiter that lets everything in. */
export function createRateLimiter(options: RateLimitOptions): RateLimiter {
  const { imagesPerSecond: rate, burstImages: burst } = options;
  const now = options.now ?? (() => performance.now());
  if (rate <= 0) return { admit: () => {}, charge: () => {}, tracked: 0 };
  // A bucket that is full is the same as none: only clients that spent images are kept.
  const buckets = new Map<string, Bucket>();
  let sweptAt = now();
  const policy = { quota: burst, windowSeconds: Math.max(1, Math.ceil(burst / rate)) };

  const bucketOf = (client: string, at: number): Bucket => {
    const bucket = buckets.get(client) ?? { images: burst, at };
    bucket.images = Math.min(burst, bucket.images + ((at - bucket.at) / 1000) * rate);
    bucket.at = at;
    return bucket;
  };

  const take = (client: string, cost: number, at: number, bucket = bucketOf(client, at)): void => {
    bucket.images -= cost;
    buckets.set(client, bucket);
    if (at - sweptAt < SWEEP_INTERVAL_MS) return;
    sweptAt = at;
    for (const [key, b] of buckets) if (b.images + ((at - b.at) / 1000) * rate >= burst) buckets.delete(key);
  };

  return {
    admit(client, cost) {
      const at = now();
      const bucket = bucketOf(client, at);
      if (bucket.images < 1) {
        throw new RateLimited({
          policy: RATE_LIMIT_POLICY,
          ...policy,
          remaining: 0,
          retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.images) / rate)),
        });
      }
      take(client, cost, at, bucket);
    },
    charge(client, cost) {
      if (cost > 0) take(client, cost, now());
    },
    get tracked() {
      return buckets.size;
    },
  };
}
