/**
 * libuv's thread pool, shared fairly between clients. sharp reads headers and decodes on libuv's
 * threads (4 by default, `UV_THREADPOOL_SIZE`), whose queue is first come, first served and
 * shared with everything else that runs there (token signatures among them): a batch of 64 images
 * handed to sharp at once would put 64 header reads, then its decodes, ahead of another client's
 * one image. Here at most `threads` sharp calls are handed to libuv at once, and the calls
 * waiting take turns by client (`fair-queue.ts`), so that another client's call waits for at most
 * one call of each client ahead of it and a call already on a thread.
 *
 * ```ts
 * const header = await imageThreads.run('token:alice', () => sharp(bytes).metadata());
 * ```
 */
import { createFairQueue } from './fair-queue.js';

/** A bounded number of calls at once, the waiting ones served by client in turn. */
export interface FairSlots {
  /** Runs `task` once a slot is free and `client`'s turn has come (default client: one shared by all who name none). */
  run<T>(client: string | undefined, task: () => Promise<T>): Promise<T>;
  /** Calls running now. */
  readonly running: number;
  /** Calls waiting now. */
  readonly waiting: number;
}

/** Creates `slots` slots. */
export function createFairSlots(slots: number): FairSlots {
  const queue = createFairQueue<() => void>();
  let running = 0;

  const release = (): void => {
    running--;
    const next = queue.shift();
    if (next) {
      running++;
      next();
    }
  };

  return {
    run<T>(client: string | undefined, task: () => Promise<T>): Promise<T> {
      const start = (): Promise<T> => new Promise<T>((resolve) => resolve(task())).finally(release);
      if (running < slots && queue.size === 0) {
        running++;
        return start();
      }
      return new Promise<T>((resolve, reject) => queue.push(client ?? '', () => void start().then(resolve, reject)));
    },
    get running() {
      return running;
    },
    get waiting() {
      return queue.size;
    },
  };
}

/**
 * libuv's default pool size. The service does not change it (`UV_THREADPOOL_SIZE`); were it
 * larger, sharp would use no more of it than this, which the decode memory budget and the large
 * lane (`MAX_LARGE_DECODES` below this) are sized for anyway.
 */
const LIBUV_THREADS = 4;

/** The process's one libuv thread pool, as sharp's calls share it. */
export const imageThreads = createFairSlots(LIBUV_THREADS);
