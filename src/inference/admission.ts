/**
 * Admission control for classifications, in two lanes and within a memory budget.
 *
 * Each classification comes with the memory its decode will need, estimated from the image's
 * header (`src/model/image/decode-cost.ts`). Ordinary images (estimate up to
 * {@link LARGE_DECODE_BYTES}) run at most `maxInflight` at once with `maxQueue` waiting; large
 * ones run at most `maxLargeInflight` at once with `maxLargeQueue` waiting, in a lane of their own,
 * so that large decodes (seconds each) never hold the slots of ordinary ones. Across both lanes the
 * estimates of the running classifications stay within `memoryBudgetBytes`, of which large ones may
 * take all but `ORDINARY_DECODE_RESERVE_BYTES` (decode-cost.ts). Each lane starts its tasks in arrival order;
 * anything beyond a full queue is refused at once with `503 overloaded` and `Retry-After`, instead
 * of piling up work the machine cannot finish or memory it does not have.
 *
 * ```ts
 * const admission = createAdmission({ maxInflight: 16, maxQueue: 128, retryAfterSeconds: 1 });
 * const header = await classifier.inspect(image);
 * const result = await admission.run(() => classifier.classify(image, header), { costBytes: header.decodeBytes, signal });
 * ```
 */
import { Overloaded } from '../errors.js';
import { LARGE_DECODE_BYTES, largestDecodeBytes } from '../model/image/decode-cost.js';

/** Limits, from the configuration (`MAX_INFLIGHT`, `MAX_QUEUE`, `MAX_LARGE_DECODES`…). */
export interface AdmissionOptions {
  /** Ordinary tasks running at once; at least 1. */
  readonly maxInflight: number;
  /** Ordinary tasks waiting; 0 refuses everything beyond `maxInflight`. */
  readonly maxQueue: number;
  /** `Retry-After` of the refusal, in seconds. */
  readonly retryAfterSeconds: number;
  /** Large tasks running at once; default 1. */
  readonly maxLargeInflight?: number;
  /** Large tasks waiting; default 0. */
  readonly maxLargeQueue?: number;
  /** Sum of the running tasks' costs, in bytes; 0 for no budget (the default). */
  readonly memoryBudgetBytes?: number;
}

/**
 * What the optional bounds default to: no large lane to speak of and no memory budget, as a gate
 * whose tasks carry no cost needs (the explanations' gate). The service passes every bound from
 * its configuration (`MAX_LARGE_DECODES`, `MAX_LARGE_QUEUE`, `DECODE_MEMORY_BUDGET_MIB`).
 */
const optionalDefaults = Object.freeze({ maxLargeInflight: 1, maxLargeQueue: 0, memoryBudgetBytes: 0 });

/** What a task costs and who waits for it. */
export interface RunOptions {
  /** Estimated memory of the task, in bytes; chooses its lane. Default 0 (ordinary, free). */
  readonly costBytes?: number;
  /** When it aborts while the task waits (the client went away), the task never runs. */
  readonly signal?: AbortSignal;
}

/** A bounded gate in front of an expensive task. */
export interface Admission {
  /**
   * Runs `task` when its lane has a free slot and its cost fits in the memory budget. Throws
   * {@link Overloaded} at once when its lane's queue is full. When `signal` aborts while waiting,
   * the task never runs and the returned promise rejects with the signal's reason.
   */
  run<T>(task: () => Promise<T>, options?: RunOptions): Promise<T>;
  /** Tasks running now, both lanes. */
  readonly inflight: number;
  /** Tasks waiting now, both lanes. */
  readonly queued: number;
  /** Large tasks running now. */
  readonly largeInflight: number;
  /** Large tasks waiting now. */
  readonly largeQueued: number;
  /** Estimated memory of the tasks running now, in bytes. */
  readonly memoryBytes: number;
}

interface Waiter {
  readonly costBytes: number;
  readonly start: () => void;
}

interface Lane {
  readonly large: boolean;
  readonly maxInflight: number;
  readonly maxQueue: number;
  /** Most memory the lane's running tasks may hold together. */
  readonly memoryCapBytes: number;
  inflight: number;
  memoryBytes: number;
  readonly queue: Waiter[];
}

/** Creates an admission gate. */
export function createAdmission(options: AdmissionOptions): Admission {
  const settings = { ...optionalDefaults, ...options };
  const budget = settings.memoryBudgetBytes > 0 ? settings.memoryBudgetBytes : Infinity;
  const lane = (large: boolean, maxInflight: number, maxQueue: number, memoryCapBytes: number): Lane =>
    ({ large, maxInflight, maxQueue, memoryCapBytes, inflight: 0, memoryBytes: 0, queue: [] });
  const ordinary = lane(false, settings.maxInflight, settings.maxQueue, budget);
  const large = lane(true, settings.maxLargeInflight, settings.maxLargeQueue, largestDecodeBytes(settings.memoryBudgetBytes));
  let memoryBytes = 0;

  const fits = (l: Lane, cost: number): boolean =>
    l.inflight < l.maxInflight && memoryBytes + cost <= budget && l.memoryBytes + cost <= l.memoryCapBytes;

  const execute = async <T>(l: Lane, cost: number, task: () => Promise<T>): Promise<T> => {
    l.inflight++;
    l.memoryBytes += cost;
    memoryBytes += cost;
    try {
      return await task();
    } finally {
      l.inflight--;
      l.memoryBytes -= cost;
      memoryBytes -= cost;
      pump();
    }
  };

  // Starts the waiting tasks that fit now, each lane in its arrival order.
  const pump = (): void => {
    for (const l of [ordinary, large]) {
      while (l.queue.length > 0 && fits(l, l.queue[0]!.costBytes)) l.queue.shift()!.start();
    }
  };

  return {
    get inflight() {
      return ordinary.inflight + large.inflight;
    },
    get queued() {
      return ordinary.queue.length + large.queue.length;
    },
    get largeInflight() {
      return large.inflight;
    },
    get largeQueued() {
      return large.queue.length;
    },
    get memoryBytes() {
      return memoryBytes;
    },
    run<T>(task: () => Promise<T>, runOptions: RunOptions = {}): Promise<T> {
      const { signal } = runOptions;
      if (signal?.aborted) return Promise.reject(signal.reason as Error);
      const l = (runOptions.costBytes ?? 0) > LARGE_DECODE_BYTES ? large : ordinary;
      // The header inspection refuses anything over the lane's cap (413); a cost over it from
      // another caller is counted as the cap, so that it waits for an empty lane instead of forever.
      const cost = Math.min(runOptions.costBytes ?? 0, l.memoryCapBytes);
      if (l.queue.length === 0 && fits(l, cost)) return execute(l, cost, task);
      if (l.queue.length >= l.maxQueue) {
        return Promise.reject(new Overloaded(
          settings.retryAfterSeconds,
          l.large ? 'Too many large images are being decoded; retry later' : undefined,
        ));
      }
      return new Promise<T>((resolve, reject) => {
        const onAbort = (): void => {
          const at = l.queue.indexOf(waiter);
          if (at >= 0) l.queue.splice(at, 1);
          reject(signal!.reason as Error);
          // The head may have been what held the others back.
          pump();
        };
        const waiter: Waiter = {
          costBytes: cost,
          start: () => {
            signal?.removeEventListener('abort', onAbort);
            execute(l, cost, task).then(resolve, reject);
          },
        };
        l.queue.push(waiter);
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    },
  };
}
