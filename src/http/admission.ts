/**
 * Admission control for classifications: at most `maxInflight` run at once, at most `maxQueue`
 * wait for a slot in arrival order, and anything beyond is refused at once with
 * `503 overloaded` and `Retry-After`, instead of piling up work the machine cannot finish.
 *
 * ```ts
 * const admission = createAdmission({ maxInflight: 16, maxQueue: 128, retryAfterSeconds: 1 });
 * const result = await admission.run(() => classifier.classify(image), signal);
 * ```
 */
import { envSchema } from '../config.js';
import { Overloaded } from '../errors.js';

/** Limits, from the configuration (`MAX_INFLIGHT`, `MAX_QUEUE`, `OVERLOAD_RETRY_AFTER_SECONDS`). */
export interface AdmissionOptions {
  /** Tasks running at once; at least 1. */
  readonly maxInflight: number;
  /** Tasks waiting for a slot; 0 refuses everything beyond `maxInflight`. */
  readonly maxQueue: number;
  /** `Retry-After` of the refusal, in seconds. */
  readonly retryAfterSeconds: number;
}

/** The configuration's defaults (MAX_INFLIGHT, MAX_QUEUE, OVERLOAD_RETRY_AFTER_SECONDS), for apps built without them. */
export const defaultAdmissionOptions: AdmissionOptions = Object.freeze({
  maxInflight: envSchema.properties.MAX_INFLIGHT.default,
  maxQueue: envSchema.properties.MAX_QUEUE.default,
  retryAfterSeconds: envSchema.properties.OVERLOAD_RETRY_AFTER_SECONDS.default,
});

/** A bounded gate in front of an expensive task. */
export interface Admission {
  /**
   * Runs `task` when a slot is free. Throws {@link Overloaded} at once when the queue is full.
   * When `signal` aborts while waiting (the client went away), the task never runs and the
   * returned promise rejects with the signal's reason.
   */
  run<T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T>;
  /** Tasks running now. */
  readonly inflight: number;
  /** Tasks waiting now. */
  readonly queued: number;
}

interface Waiter {
  readonly start: () => void;
}

/** Creates an admission gate. */
export function createAdmission(options: AdmissionOptions = defaultAdmissionOptions): Admission {
  const { maxInflight, maxQueue, retryAfterSeconds } = options;
  let inflight = 0;
  const queue: Waiter[] = [];

  const release = (): void => {
    inflight--;
    const next = queue.shift();
    if (next) next.start();
  };

  const execute = async <T>(task: () => Promise<T>): Promise<T> => {
    inflight++;
    try {
      return await task();
    } finally {
      release();
    }
  };

  return {
    get inflight() {
      return inflight;
    },
    get queued() {
      return queue.length;
    },
    run<T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T> {
      if (signal?.aborted) return Promise.reject(signal.reason as Error);
      if (inflight < maxInflight) return execute(task);
      if (queue.length >= maxQueue) return Promise.reject(new Overloaded(retryAfterSeconds));
      return new Promise<T>((resolve, reject) => {
        const onAbort = (): void => {
          const at = queue.indexOf(waiter);
          if (at >= 0) queue.splice(at, 1);
          reject(signal!.reason as Error);
        };
        const waiter: Waiter = {
          start: () => {
            signal?.removeEventListener('abort', onAbort);
            execute(task).then(resolve, reject);
          },
        };
        queue.push(waiter);
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    },
  };
}
