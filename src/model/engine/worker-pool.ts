/**
 * The inference engine on worker threads (see `create.ts`): one onnxruntime session per
 * worker, one forward pass per worker at a time.
 *
 * A worker that dies (a native crash in onnxruntime, memory exhaustion) takes its forward pass
 * with it: that batch fails, the worker is replaced, and later passes wait for it. After
 * {@link MAX_CRASHES} crashes within {@link CRASH_WINDOW_MS} the engine gives up (`failed`), so
 * that the process can exit and its supervisor start a fresh one, rather than serve errors.
 */
import { Worker } from 'node:worker_threads';
import { releaseBytes } from '../../release-bytes.js';
import { InferenceError, InferenceWorkerExited } from './errors.js';
import type {
  EngineHealth,
  InferenceEngine,
  ModelIO,
  SessionOptions,
  SessionSignature,
  WorkerInit,
  WorkerReply,
  WorkerRequest,
} from './types.js';

/** How many worker crashes within {@link CRASH_WINDOW_MS} the engine survives by replacing the worker. */
export const MAX_CRASHES = 3;
/** The window of {@link MAX_CRASHES}, in milliseconds. */
const CRASH_WINDOW_MS = 60_000;

/** Starts one worker thread; replaceable in tests, to reach the workers. */
export type SpawnWorker = (init: WorkerInit) => Worker;

// The worker's own file: .ts under tsx (tests, `make run`), .js once compiled.
const fromSource = import.meta.url.endsWith('.ts');
const workerUrl = new URL(`./worker${fromSource ? '.ts' : '.js'}`, import.meta.url);

/** Starts an inference worker from this module's sibling file. */
export const spawnWorker: SpawnWorker = (init) => {
  if (!fromSource) return new Worker(workerUrl, { workerData: init });
  // tsx's loader, registered with --import in this thread, does not reach worker threads:
  // import the TypeScript entry through tsx's API instead (tsx is present whenever .ts runs).
  const code = `import('tsx/esm/api').then((tsx) => tsx.tsImport(${JSON.stringify(workerUrl.href)}, ${JSON.stringify(import.meta.url)}))`;
  return new Worker(code, { eval: true, workerData: init });
};

interface Waiter {
  readonly resolve: (data: Float32Array) => void;
  readonly reject: (err: Error) => void;
}

interface Slot {
  /** The running worker, the promise of its replacement while it starts, or none yet. */
  worker: Worker | Promise<Worker> | undefined;
  /** The forward pass in progress, if any: a worker runs one at a time. */
  waiter: Waiter | undefined;
}

/** Creates `size` workers; rejects (after stopping the others) when one cannot load the model. */
export async function createWorkerPool(
  model: Uint8Array,
  io: ModelIO,
  options: SessionOptions,
  size: number,
  spawn: SpawnWorker = spawnWorker,
): Promise<InferenceEngine> {
  let nextId = 0;
  let closing = false;
  let gaveUp: Error | undefined;
  const crashes: number[] = [];
  let giveUp: (err: Error) => void = () => {};
  const failed = new Promise<Error>((resolve) => (giveUp = resolve));
  const slots: Slot[] = [];
  // Passes waiting for a worker while one is being replaced.
  const waitingForWorker: (() => void)[] = [];
  const wakeWaiting = (): void => {
    for (const wake of waitingForWorker.splice(0)) wake();
  };

  const start = (slot: Slot): Promise<{ worker: Worker; signature: SessionSignature }> =>
    new Promise((resolve, reject) => {
      const worker = spawn({ model, io, options });
      worker.on('message', (reply: WorkerReply) => {
        if (reply.type === 'ready') {
          const { type: _type, ...signature } = reply;
          resolve({ worker, signature });
        } else if (reply.type === 'failed') {
          reject(new InferenceError('session-failed', reply.message));
        } else {
          const waiter = slot.waiter;
          slot.waiter = undefined;
          if (reply.type === 'result') waiter?.resolve(reply.data);
          else waiter?.reject(new InferenceError('inference-failed', `inference failed: ${reply.message}`));
          wakeWaiting();
        }
      });
      worker.on('error', reject);
      worker.on('exit', (code) => {
        reject(new InferenceWorkerExited(code));
        if (!closing && slot.worker === worker) crashed(slot, code);
      });
    });

  function crashed(slot: Slot, code: number): void {
    const exited = new InferenceWorkerExited(code);
    slot.waiter?.reject(exited);
    slot.waiter = undefined;
    const now = Date.now();
    crashes.push(now);
    while ((crashes[0] ?? now) < now - CRASH_WINDOW_MS) crashes.shift();
    if (crashes.length >= MAX_CRASHES) {
      gaveUp = new InferenceError(
        'engine-failed',
        `inference workers crashed ${crashes.length} times within ${CRASH_WINDOW_MS / 1000} s (last exit code ${code})`,
        { cause: exited },
      );
      giveUp(gaveUp);
      wakeWaiting();
      return;
    }
    slot.worker = start(slot).then(
      ({ worker }) => {
        slot.worker = worker;
        wakeWaiting();
        return worker;
      },
      (err: Error) => {
        // A replacement that cannot even load the model will not get better.
        gaveUp = new InferenceError('engine-failed', `an inference worker crashed and its replacement failed: ${err.message}`, {
          cause: err,
        });
        giveUp(gaveUp);
        wakeWaiting();
        throw err;
      },
    );
    // Observed through `failed`; the slot's promise must not count as unhandled.
    slot.worker.catch(() => {});
  }

  for (let i = 0; i < size; i++) slots.push({ worker: undefined, waiter: undefined });
  const started = await Promise.allSettled(slots.map((slot) => start(slot)));
  const running = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const [first] = running;
  if (!first || running.length < size) {
    closing = true;
    await Promise.all(running.map(({ worker }) => worker.terminate()));
    throw started.find((s) => s.status === 'rejected')?.reason ?? new Error('no inference worker was started');
  }
  running.forEach(({ worker }, i) => {
    const slot = slots[i];
    if (slot) slot.worker = worker;
  });
  const signature: SessionSignature = first.signature;

  /**
   * Takes a free worker for `waiter`'s pass, or waits for one. The worker is taken in the same
   * turn as it is found (its `waiter` set), so that two passes started together never share it.
   */
  async function claimWorker(waiter: Waiter): Promise<Worker> {
    for (;;) {
      if (gaveUp) throw gaveUp;
      const slot = slots.find((s) => s.waiter === undefined && s.worker instanceof Worker);
      if (slot) {
        slot.waiter = waiter;
        return slot.worker as Worker;
      }
      // The batcher never runs more passes than there are workers: one is being replaced.
      await new Promise<void>((resolve) => waitingForWorker.push(resolve));
    }
  }

  return {
    ...signature,
    slots: size,
    get health(): EngineHealth {
      if (gaveUp) return 'failed';
      return slots.every((s) => s.worker instanceof Worker) ? 'ok' : 'recovering';
    },
    failed,
    run(images, disposable = []) {
      return new Promise<Float32Array>((resolve, reject) => {
        // A failure to claim or to post fails this pass, as a rejection of `run` (not an unhandled one).
        claimWorker({ resolve, reject })
          .then((worker) => {
            // The decoded images are copied (about 150 KB each at 224 × 224): sharp's buffers
            // cannot be transferred. The disposable ones are freed here at once, rather than with
            // their objects, which wait for a full collection once the batch outlives a scavenge.
            const message: WorkerRequest = { id: nextId++, images };
            worker.postMessage(message);
            for (const image of disposable) releaseBytes(image);
          })
          .catch(reject);
      });
    },
    async close() {
      closing = true;
      await Promise.all(slots.map(async (s) => (await Promise.resolve(s.worker).catch(() => undefined))?.terminate()));
    },
  };
}
