/**
 * Where `session.run` happens. onnxruntime-node's `run` is synchronous on the calling thread
 * (it only defers to `setImmediate`), so in-process inference blocks the event loop for the
 * whole forward pass. With `workers` ≥ 1 each worker thread owns one session, normalises the
 * decoded images into its batch tensor and runs the pass; the event loop only parses
 * requests, waits for sharp and post-processes.
 */
import { createInProcessEngine } from './in-process.js';
import type { InferenceEngine, ModelIO, SessionOptions } from './types.js';
import { createWorkerPool } from './worker-pool.js';

/**
 * Creates `workers` worker threads, each with its own session, or one session in-process when
 * `workers` is 0. Rejects when a session cannot be created (a broken model stops start-up).
 */
export async function createInferenceEngine(
  model: Uint8Array,
  io: ModelIO,
  options: SessionOptions,
  workers: number,
): Promise<InferenceEngine> {
  return workers === 0 ? createInProcessEngine(model, io, options) : createWorkerPool(model, io, options, workers);
}
