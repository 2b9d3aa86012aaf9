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
 * explanation's images halved the uploads served while explanations ran). With several slots,
 * low batches take all of them only while no client has sent a high item within the last second;
 * otherwise they leave one slot to the uploads, whose decodes share the cores with them (with two
 * inference workers, uploads beside explanations on both kept 0.71–0.81 of their rate alone, and
 * 0.78–0.92 beside explanations on one: `make bench-explain`, docs/explain.md).
 *
 * Each item belongs to a client (a token's subject, or an address: whoever the caller says), and
 * each client's items wait in a queue of their own (`fair-queue.ts`). A batch takes the clients'
 * items in turn, and from any one of them at most its size divided by the clients waiting, and no
 * more than the client with the fewest waiting: with one client flooding and another sending one
 * image, the next batch holds that image and one of the flood's, not a full batch the image waits
 * behind. While a client that sent an image within the last second waits for nothing, batches
 * hold one image per waiting client: its next image then waits for a batch of one of the flood's
 * images, not of four (`make attack`, docs/operations.md: the lone client's p50 under a batch
 * flood ×1.5–2.6 of its p50 alone, against ×2.7–3.5 with half batches). This costs the flood what
 * batching would have saved it: nothing measurable with VNNI, up to a sixth of the CPU per image
 * without (forward pass alone, batches of 1 against 8). `make bench`'s single client is never split.
 *
 * @example const b = new Batcher(async (xs) => xs.map(infer), { maxBatchSize: 8, maxWaitMs: 0 });
 */

import { createFairQueue, type FairQueue } from './fair-queue.js';

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
  /** Clock in milliseconds, for tests; default `performance.now`. */
  readonly now?: () => number;
}

/** How long a client counts as present after its last image, in milliseconds. */
const PRESENT_MS = 1_000;

/** Whom a batch serves first: `high` items before any `low` one, each in arrival order. */
export type Priority = 'high' | 'low';

interface Pending<I, O> {
  readonly item: I;
  readonly client: string;
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
  readonly #now: () => number;
  /** When each client present submitted its last high-priority item. */
  readonly #seen = new Map<string, number>();
  #queue: FairQueue<Pending<I, O>> = createFairQueue();
  #background: FairQueue<Pending<I, O>> = createFairQueue();
  #busy = 0;
  /** Slots running low-priority batches. */
  #busyLow = 0;
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
    this.#now = options.now ?? (() => performance.now());
  }

  /** Items waiting for a slot, of both priorities. */
  get queued(): number {
    return this.#queue.size + this.#background.size;
  }

  /**
   * Resolves with this item's own result, or rejects with the error of its batch. `client` says
   * whose item it is (default: one client shared by every caller that names none).
   */
  submit(item: I, priority: Priority = 'high', client = ''): Promise<O> {
    if (priority === 'high') this.#seen.set(client, this.#now());
    return new Promise<O>((resolve, reject) => {
      (priority === 'high' ? this.#queue : this.#background).push(client, { item, client, resolve, reject });
      this.#pump(false);
    });
  }

  /** Dispatches as many batches as free slots and the wait rule allow. */
  #pump(waited: boolean): void {
    while (this.#busy < this.#slots && this.queued > 0) {
      const low = this.#queue.size === 0;
      const queue = low ? this.#background : this.#queue;
      if (low && this.#busyLow >= this.#lowSlots()) return;
      const size = low ? this.#maxLowBatchSize : this.#maxBatchSize;
      const full = queue.size >= size;
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
      this.#dispatch(Batcher.#take(queue, size, low ? 1 : this.#present()), low);
    }
  }

  /** Slots low batches may hold: all of them while no client is present, else all but one (at least one). */
  #lowSlots(): number {
    return this.#present() > 0 ? Math.max(1, this.#slots - 1) : this.#slots;
  }

  /** Clients that submitted a high-priority item within the last {@link PRESENT_MS}. */
  #present(): number {
    const since = this.#now() - PRESENT_MS;
    for (const [client, at] of this.#seen) if (at < since) this.#seen.delete(client);
    return this.#seen.size;
  }

  /**
   * Up to `size` items, the clients in turn: one from each when some of the clients `present`
   * wait for nothing (they are likely to send again soon); otherwise from each at most its share
   * of `size`, and no more than the client with the fewest waiting.
   */
  static #take<P extends { readonly client: string }>(queue: FairQueue<P>, size: number, present: number): P[] {
    const share = present > queue.clients ? 1 : Math.min(Math.ceil(size / queue.clients), queue.clients > 1 ? queue.fewest : size);
    const taken = new Map<string, number>();
    const batch: P[] = [];
    while (batch.length < size) {
      const next = queue.shift((client) => (taken.get(client) ?? 0) < share);
      if (next === undefined) break;
      taken.set(next.client, (taken.get(next.client) ?? 0) + 1);
      batch.push(next);
    }
    return batch;
  }

  #dispatch(batch: Pending<I, O>[], low: boolean): void {
    this.#busy++;
    if (low) this.#busyLow++;
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
      if (low) this.#busyLow--;
      // Items queued while this batch ran have waited long enough: dispatch them at once.
      this.#pump(true);
    });
  }
}
