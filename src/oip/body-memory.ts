/**
 * The memory budget of the Open Inference Protocol's inference requests held at once
 * (`INFER_BODY_MEMORY_MIB`), one for both its front-ends: REST bodies and gRPC messages.
 *
 * A V2 body may be 64 MiB, next to 10 MiB for an upload; held on every connection at once that
 * would be far more than the container has. Each body reserves its estimated memory before it is
 * read (a gRPC message, once received: before it waits for admission), and gives it back once its
 * answer is computed: a request that does not fit now is refused at once (503 `overloaded`,
 * gRPC `RESOURCE_EXHAUSTED`, so the client can retry elsewhere), one that could never fit is
 * refused for good (413).
 *
 * ```ts
 * const memory = createBodyMemory(256 * MiB, 1);
 * const release = memory.reserve(4 * contentLength);
 * try { ... } finally { release(); }
 * ```
 */
import { Overloaded, PayloadTooLarge } from '../errors.js';

/** A bounded pool of bytes. */
export interface BodyMemory {
  /**
   * Reserves `bytes`; returns the function that gives them back (calling it again does nothing).
   *
   * @throws {@link Overloaded} when they do not fit now; {@link PayloadTooLarge} when they never
   *   would (its detail ends with `hint`, what the client can do instead, when given).
   */
  reserve(bytes: number, hint?: string): () => void;
  /** Bytes reserved now. */
  readonly reservedBytes: number;
}

/** Creates the budget; `budgetBytes` 0 means no budget. */
export function createBodyMemory(budgetBytes: number, retryAfterSeconds: number): BodyMemory {
  const budget = budgetBytes > 0 ? budgetBytes : Infinity;
  let reserved = 0;
  return {
    get reservedBytes() {
      return reserved;
    },
    reserve(bytes, hint = 'send fewer images per request') {
      if (bytes > budget) {
        throw new PayloadTooLarge(budget, `The request body would need about ${Math.ceil(bytes / 2 ** 20)} MiB of memory, over the ${Math.floor(budget / 2 ** 20)} MiB the service gives all inference bodies together; ${hint}`);
      }
      if (reserved + bytes > budget) {
        throw new Overloaded(retryAfterSeconds, 'Too much inference data is being received; retry later');
      }
      reserved += bytes;
      let released = false;
      return () => {
        if (released) return;
        released = true;
        reserved -= bytes;
      };
    },
  };
}
