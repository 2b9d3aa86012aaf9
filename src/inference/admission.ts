/**
 * Admission control for classifications, in two lanes and within a memory budget, shared fairly
 * between clients.
 *
 * Each classification comes with the memory its decode will need, estimated from the image's
 * header (`src/model/image/decode-cost.ts`). Ordinary images (estimate up to
 * {@link LARGE_DECODE_BYTES}) run at most `maxInflight` at once with `maxQueue` waiting; large
 * ones run at most `maxLargeInflight` at once with `maxLargeQueue` waiting, in a lane of their own,
 * so that large decodes (seconds each) never hold the slots of ordinary ones. Across both lanes the
 * estimates of the running classifications stay within `memoryBudgetBytes`, of which large ones may
 * take all but `ORDINARY_DECODE_RESERVE_BYTES` (decode-cost.ts).
 *
 * Each task belongs to a client (`RunOptions.client`: a token's subject, or an address). In each
 * lane every client's tasks wait in a queue of their own and the clients take turns
 * (`fair-queue.ts`): a batch of 64 images is 64 tasks of one client, and another client's single
 * upload waits for one task of each client ahead of it, not for the 64. A full queue takes a
 * newcomer in place of the newest task of the client holding the most, as long as that client still
 * holds as many; otherwise it refuses at once with `503 overloaded` and `Retry-After`, instead of
 * piling up work the machine cannot finish or memory it does not have.
 *
 * ```ts
 * const admission = createAdmission({ maxInflight: 16, maxQueue: 128, retryAfterSeconds: 1 });
 * const header = await classifier.inspect(image);
 * const result = await admission.run(() => classifier.classify(image, header), { costBytes: header.decodeBytes, client, signal });
 * ```
 */
import { Overloaded } from '../errors.js';
import { LARGE_DECODE_BYTES, largestDecodeBytes } from '../model/image/decode-cost.js';
import { createFairQueue, type FairQueue } from '../model/fair-queue.js';

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
  /** Whose task it is: the lanes take their clients' tasks in turn. Default {@link ANONYMOUS}. */
  readonly client?: string;
  /** When it aborts while the task waits (the client went away), the task never runs. */
  readonly signal?: AbortSignal;
}

/** The client of tasks that name none: they share one queue, in arrival order. */
export const ANONYMOUS = '';

/** A bounded gate in front of an expensive task. */
export interface Admission {
  /**
   * Runs `task` when its lane has a free slot, its cost fits in the memory budget and its
   * client's turn has come. Throws {@link Overloaded} at once when its lane's queue is full (and
   * its client holds at least as many waiting tasks as any other); a task waiting in a full queue
   * may also be refused so later, when a client holding fewer arrives. When `signal` aborts while
   * waiting, the task never runs and the returned promise rejects with the signal's reason.
   */
  run<T>(task: () => Promise<T>, options?: RunOptions): Promise<T>;
  /**
   * Whether `count` ordinary tasks of `client` would be taken now (run or queued), as
   * {@link Admission.run} would decide it: for a refusal before the request's body is read, or
   * before a batch's images are inspected. A client that may take another's place is let try.
   */
  accepts(client: string, count?: number): boolean;
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
  /** Refuses the task: it lost its place to a client holding fewer. */
  readonly refuse: (err: Error) => void;
}

interface Lane {
  readonly large: boolean;
  readonly maxInflight: number;
  /** Slots beyond `maxInflight` for clients holding fewer than this many. */
  readonly reserve: number;
  readonly maxQueue: number;
  /** Most memory the lane's running tasks may hold together. */
  readonly memoryCapBytes: number;
  inflight: number;
  memoryBytes: number;
  /** Slots held, by client. */
  readonly held: Map<string, number>;
  readonly queue: FairQueue<Waiter>;
}

/**
 * Slots of the ordinary lane beyond `maxInflight`, for clients holding fewer than this many: 2
 * with the default 16, so that another client's upload starts at once while one client's flood
 * holds every slot, rather than after one of the flood's images has gone through decoding and a
 * batch (as the connection budget's reserve, `src/http/connection-budget.ts`). None below 8.
 */
const reserveOf = (maxInflight: number): number => Math.floor(maxInflight / 8);

/** Creates an admission gate. */
export function createAdmission(options: AdmissionOptions): Admission {
  const settings = { ...optionalDefaults, ...options };
  const budget = settings.memoryBudgetBytes > 0 ? settings.memoryBudgetBytes : Infinity;
  const lane = (large: boolean, maxInflight: number, reserve: number, maxQueue: number, memoryCapBytes: number): Lane =>
    ({ large, maxInflight, reserve, maxQueue, memoryCapBytes, inflight: 0, memoryBytes: 0, held: new Map(), queue: createFairQueue<Waiter>() });
  const ordinary = lane(false, settings.maxInflight, reserveOf(settings.maxInflight), settings.maxQueue, budget);
  const large = lane(true, settings.maxLargeInflight, 0, settings.maxLargeQueue, largestDecodeBytes(settings.memoryBudgetBytes));
  let memoryBytes = 0;

  /** Whether `client` may take another slot of `l` now (memory aside): a free one, or one of the reserve. */
  const slotFor = (l: Lane, client: string): boolean =>
    l.inflight < l.maxInflight || (l.inflight < l.maxInflight + l.reserve && (l.held.get(client) ?? 0) < l.reserve);
  const fitsMemory = (l: Lane, cost: number): boolean =>
    memoryBytes + cost <= budget && l.memoryBytes + cost <= l.memoryCapBytes;

  const execute = async <T>(l: Lane, client: string, cost: number, task: () => Promise<T>): Promise<T> => {
    l.inflight++;
    l.held.set(client, (l.held.get(client) ?? 0) + 1);
    l.memoryBytes += cost;
    memoryBytes += cost;
    try {
      return await task();
    } finally {
      l.inflight--;
      const left = l.held.get(client)! - 1;
      if (left > 0) l.held.set(client, left);
      else l.held.delete(client);
      l.memoryBytes -= cost;
      memoryBytes -= cost;
      pump();
    }
  };

  // Starts the waiting tasks that fit now: in each lane, the next in turn among the clients that
  // may take a slot, as long as its memory fits (a task waiting for memory holds the others back,
  // so that a large decode is not overtaken for ever).
  const pump = (): void => {
    for (const l of [ordinary, large]) {
      for (;;) {
        const may = (client: string): boolean => slotFor(l, client);
        const next = l.queue.peek(may);
        if (next === undefined || !fitsMemory(l, next.costBytes)) break;
        l.queue.shift(may)!.start();
      }
    }
  };

  const overloaded = (l: Lane): Overloaded => new Overloaded(
    settings.retryAfterSeconds,
    l.large ? 'Too many large images are being decoded; retry later' : undefined,
  );

  /** Makes room in `l`'s full queue for a task of `client` by refusing the newest of a client holding more; whether it could. */
  const makeRoom = (l: Lane, client: string): boolean => {
    const displaced = l.queue.displace(client);
    displaced?.refuse(overloaded(l));
    return displaced !== undefined;
  };

  return {
    get inflight() {
      return ordinary.inflight + large.inflight;
    },
    get queued() {
      return ordinary.queue.size + large.queue.size;
    },
    get largeInflight() {
      return large.inflight;
    },
    get largeQueued() {
      return large.queue.size;
    },
    get memoryBytes() {
      return memoryBytes;
    },
    accepts(client, count = 1) {
      const l = ordinary;
      const free = l.queue.size === 0 ? Math.max(0, l.maxInflight - l.inflight) : 0;
      const reserved = Math.max(0, Math.min(l.reserve - (l.held.get(client) ?? 0), l.maxInflight + l.reserve - Math.max(l.inflight, l.maxInflight)));
      return count <= free + reserved + l.maxQueue - l.queue.size || l.queue.canDisplace(client);
    },
    run<T>(task: () => Promise<T>, runOptions: RunOptions = {}): Promise<T> {
      const { signal } = runOptions;
      const client = runOptions.client ?? ANONYMOUS;
      if (signal?.aborted) return Promise.reject(signal.reason as Error);
      const l = (runOptions.costBytes ?? 0) > LARGE_DECODE_BYTES ? large : ordinary;
      // The header inspection refuses anything over the lane's cap (413); a cost over it from
      // another caller is counted as the cap, so that it waits for an empty lane instead of forever.
      const cost = Math.min(runOptions.costBytes ?? 0, l.memoryCapBytes);
      if (l.queue.sizeOf(client) === 0 && slotFor(l, client) && fitsMemory(l, cost) && l.queue.peek((c) => slotFor(l, c)) === undefined) {
        return execute(l, client, cost, task);
      }
      if (l.queue.size >= l.maxQueue && !makeRoom(l, client)) return Promise.reject(overloaded(l));
      return new Promise<T>((resolve, reject) => {
        const leave = (): void => {
          signal?.removeEventListener('abort', onAbort);
        };
        const onAbort = (): void => {
          l.queue.delete(client, waiter);
          reject(signal!.reason as Error);
          // The head may have been what held the others back.
          pump();
        };
        const waiter: Waiter = {
          costBytes: cost,
          start: () => {
            leave();
            execute(l, client, cost, task).then(resolve, reject);
          },
          refuse: (err) => {
            leave();
            reject(err);
          },
        };
        l.queue.push(client, waiter);
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    },
  };
}
