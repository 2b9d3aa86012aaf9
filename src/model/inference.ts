/**
 * Where `session.run` happens. onnxruntime-node's `run` is synchronous on the calling thread
 * (it only defers to `setImmediate`), so in-process inference blocks the event loop for the
 * whole forward pass. With `workers` ≥ 1 each worker thread owns one session, normalises the
 * decoded images into its batch tensor and runs the pass; the event loop only parses
 * requests, waits for sharp and post-processes.
 */
import * as ort from 'onnxruntime-node';
import type { Manifest } from './manifest.js';
import { createNormaliser } from './normalise.js';
import { createWorkerPool } from './worker-pool.js';

/** onnxruntime session settings. */
export interface SessionOptions {
  /**
   * Threads for one operator, per session; 0 lets onnxruntime choose (one per core). On a
   * machine shared with sharp and the HTTP stack, 1 avoids the threads spinning for work.
   */
  readonly intraOpThreads?: number;
  /** Threads across independent operators (`parallel` execution mode only); 0 = onnxruntime's choice. */
  readonly interOpThreads?: number;
  readonly executionMode?: 'sequential' | 'parallel';
  readonly graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
  /** Whether idle intra-op threads spin waiting for work (onnxruntime's default: yes). */
  readonly allowSpinning?: boolean;
}

/** Name, type and shape of a model input or output, as the session reports it. */
export interface ValueMetadata {
  readonly name: string;
  readonly isTensor: boolean;
  readonly shape: readonly (number | string)[];
}

/** What a session reports about its graph. */
export interface SessionSignature {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly inputMetadata: readonly ValueMetadata[];
  readonly outputMetadata: readonly ValueMetadata[];
}

/** The model's input and output, as the manifest names and shapes them. */
export interface ModelIO {
  readonly input: Manifest['input'];
  readonly outputName: string;
}

/** Runs forward passes on one or more sessions of the same model. */
export interface InferenceEngine extends SessionSignature {
  /** Forward passes that can run at the same time (one per session). */
  readonly slots: number;
  /**
   * One forward pass over decoded images (interleaved RGB bytes, see `normalise.ts`),
   * normalised into one batch tensor; resolves with the output, `images.length` rows.
   */
  run(images: readonly Uint8Array[]): Promise<Float32Array>;
  /**
   * `ok`; `recovering` while a crashed worker is being replaced (no forward pass can start
   * when none is left); `failed` once workers crashed too often to keep replacing them.
   */
  readonly health: EngineHealth;
  /** Resolves with the reason when the engine gives up (never, while it can serve). */
  readonly failed: Promise<Error>;
  close(): Promise<void>;
}

/** See {@link InferenceEngine.health}. */
export type EngineHealth = 'ok' | 'recovering' | 'failed';

/** How many worker crashes within {@link CRASH_WINDOW_MS} the engine survives by replacing the worker. */
export const MAX_CRASHES = 3;
export const CRASH_WINDOW_MS = 60_000;

/** Messages between the engine and an inference worker. */
export type WorkerReply =
  | ({ readonly type: 'ready' } & SessionSignature)
  | { readonly type: 'failed'; readonly message: string }
  | { readonly type: 'result'; readonly id: number; readonly data: Float32Array }
  | { readonly type: 'error'; readonly id: number; readonly message: string };

/** The request a worker receives. */
export interface WorkerRequest {
  readonly id: number;
  readonly images: readonly Uint8Array[];
}

/** Data a worker starts with. */
export interface WorkerInit {
  readonly model: Uint8Array;
  readonly io: ModelIO;
  readonly options: SessionOptions;
}

/**
 * Builds the function that runs one batch on `session`: normalises the images into a batch
 * tensor (one buffer per batch size, reused: a session runs one pass at a time) and returns
 * the output rows.
 */
export function batchRunner(
  session: ort.InferenceSession,
  io: ModelIO,
): (images: readonly Uint8Array[]) => Promise<Float32Array> {
  const { input, outputName } = io;
  const normalise = createNormaliser(input);
  const imageSize = 3 * input.width * input.height;
  const imageDims = input.layout === 'NCHW' ? [3, input.height, input.width] : [input.height, input.width, 3];
  const buffers = new Map<number, Float32Array>();
  return async (images) => {
    const n = images.length;
    let data = buffers.get(n);
    if (!data) buffers.set(n, (data = new Float32Array(n * imageSize)));
    images.forEach((pixels, i) => normalise(pixels, data, i * imageSize));
    const result = await session.run({ [input.name]: new ort.Tensor('float32', data, [n, ...imageDims]) });
    // A copy of the (small) output: onnxruntime may own the original buffer.
    return (result[outputName]!.data as Float32Array).slice();
  };
}

/** Translates our settings into onnxruntime's. */
export function ortSessionOptions(options: SessionOptions): ort.InferenceSession.SessionOptions {
  return {
    graphOptimizationLevel: options.graphOptimizationLevel ?? 'all',
    executionMode: options.executionMode ?? 'sequential',
    intraOpNumThreads: options.intraOpThreads ?? 0,
    interOpNumThreads: options.interOpThreads ?? 0,
    ...(options.allowSpinning === false
      ? { extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } } }
      : {}),
  };
}

/** The signature as plain data (it crosses the worker boundary). */
export function signatureOf(session: ort.InferenceSession): SessionSignature {
  const plain = (m: ort.InferenceSession.ValueMetadata): ValueMetadata => ({
    name: m.name,
    isTensor: m.isTensor,
    shape: m.isTensor ? [...m.shape] : [],
  });
  return {
    inputNames: [...session.inputNames],
    outputNames: [...session.outputNames],
    inputMetadata: session.inputMetadata.map(plain),
    outputMetadata: session.outputMetadata.map(plain),
  };
}

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
  return workers === 0 ? inProcess(model, io, options) : createWorkerPool(model, io, options, workers);
}

async function inProcess(model: Uint8Array, io: ModelIO, options: SessionOptions): Promise<InferenceEngine> {
  const session = await ort.InferenceSession.create(model, ortSessionOptions(options));
  return {
    ...signatureOf(session),
    slots: 1,
    run: batchRunner(session, io),
    health: 'ok',
    failed: new Promise<Error>(() => {}),
    async close() {
      await session.release();
    },
  };
}

