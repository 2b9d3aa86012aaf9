/**
 * Micro-batching of concurrent requests, as serving systems do: items submitted while every
 * runner slot is busy wait in a queue, and the next free slot takes up to `maxBatchSize` of
 * them in one call. Under load, batches form by themselves; at low load an item is dispatched
 * at once (`maxWaitMs` 0) or after at most `maxWaitMs` waiting for company.
 *
 * Items are `high` priority (uploads) or `low` (the masked copies of an explanation). A batch
 * holds high items only, whenever any wait; low items run, in batches of at most
 * `maxLowBatchSize`, only when no high item waits. An upload then waits behind background work
 * for at most one small batch, and background work uses the model's spare time rather than a
 * share of it (measured by `make bench-explain`: topping up upload batches with an
 * explanation's images halved the uploads served while explanations ran).
 *
 * @example const b = new Batcher(async (xs) => xs.map(infer), { maxBatchSize: 8, maxWaitMs: 0 });
 */

/** Runs one batch; must resolve to exactly one result per item, in order. */
export type BatchRunner<I, O> = (items: readonly I[]) => Promise<readonly O[]>;

/** Cancels a timer started by a {@link Scheduler}. */
export type Cancel = () => void;
/** Starts a one-shot timer; injected by tests so that no assertion depends on the clock. */
export type Scheduler = (callback: () => void, delayMs: number) => Cancel;

/** Batching settings. */
export interface BatcherOptions {
  /** Most items in one call of the runner; 1 disables batching. */
  readonly maxBatchSize: number;
  /**
   * Longest time, in milliseconds, that an item waits for others when a slot is free and the
   * batch is not full; 0 dispatches at once (batches then form only while slots are busy).
   */
  readonly maxWaitMs: number;
  /** Most `low` items in one call; default `maxBatchSize`. */
  readonly maxLowBatchSize?: number;
  /** Batches that may run at the same time (one per inference worker). Default 1. */
  readonly slots?: number;
  /** Timer implementation; default `setTimeout`. */
  readonly schedule?: Scheduler;
}

/** Whom a batch serves first: `high` items before any `low` one, each in arrival order. */
export type Priority = 'high' | 'low';

interface Pending<I, O> {
  readonly item: I;
  readonly resolve: (value: O) => void;
  readonly reject: (reason: unknown) => void;
}

const defaultScheduler: Scheduler = (callback, delayMs) => {
  const timer = setTimeout(callback, delayMs);
  return () => clearTimeout(timer);
};

/** Groups concurrent {@link Batcher.submit} calls into calls of a {@link BatchRunner}. */
export class Batcher<I, O> {
  readonly #run: BatchRunner<I, O>;
  readonly #maxBatchSize: number;
  readonly #maxLowBatchSize: number;
  readonly #maxWaitMs: number;
  readonly #slots: number;
  readonly #schedule: Scheduler;
  #queue: Pending<I, O>[] = [];
  #background: Pending<I, O>[] = [];
  #busy = 0;
  #cancelWait: Cancel | undefined;

  constructor(run: BatchRunner<I, O>, options: BatcherOptions) {
    if (!Number.isInteger(options.maxBatchSize) || options.maxBatchSize < 1) {
      throw new RangeError('maxBatchSize must be an integer ≥ 1');
    }
    if (!(options.maxWaitMs >= 0)) throw new RangeError('maxWaitMs must be ≥ 0');
    this.#run = run;
    this.#maxBatchSize = options.maxBatchSize;
    this.#maxLowBatchSize = Math.max(1, Math.min(options.maxLowBatchSize ?? options.maxBatchSize, options.maxBatchSize));
    this.#maxWaitMs = options.maxWaitMs;
    this.#slots = options.slots ?? 1;
    this.#schedule = options.schedule ?? defaultScheduler;
  }

  /** Items waiting for a slot, of both priorities. */
  get queued(): number {
    return this.#queue.length + this.#background.length;
  }

  /** Resolves with this item's own result, or rejects with the error of its batch. */
  submit(item: I, priority: Priority = 'high'): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      (priority === 'high' ? this.#queue : this.#background).push({ item, resolve, reject });
      this.#pump(false);
    });
  }

  /** Dispatches as many batches as free slots and the wait rule allow. */
  #pump(waited: boolean): void {
    while (this.#busy < this.#slots && this.queued > 0) {
      const queue = this.#queue.length > 0 ? this.#queue : this.#background;
      const size = queue === this.#queue ? this.#maxBatchSize : this.#maxLowBatchSize;
      const full = queue.length >= size;
      if (!full && !waited && this.#maxWaitMs > 0) {
        // A free slot and a short queue: give other requests maxWaitMs to join.
        this.#cancelWait ??= this.#schedule(() => {
          this.#cancelWait = undefined;
          this.#pump(true);
        }, this.#maxWaitMs);
        return;
      }
      this.#cancelWait?.();
      this.#cancelWait = undefined;
      this.#dispatch(queue.splice(0, size));
    }
  }

  #dispatch(batch: Pending<I, O>[]): void {
    this.#busy++;
    let results: Promise<readonly O[]>;
    try {
      results = this.#run(batch.map((p) => p.item));
    } catch (err) {
      results = Promise.reject(err);
    }
    results.then(
      (values) => {
        if (values.length !== batch.length) {
          const err = new Error(`batch runner returned ${values.length} results for ${batch.length} items`);
          for (const p of batch) p.reject(err);
        } else {
          batch.forEach((p, i) => p.resolve(values[i]!));
        }
      },
      (err: unknown) => {
        for (const p of batch) p.reject(err);
      },
    ).finally(() => {
      this.#busy--;
      // Items queued while this batch ran have waited long enough: dispatch them at once.
      this.#pump(true);
    });
  }
}
