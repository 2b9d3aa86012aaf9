/**
 * The inference engine's contract, shared by its two forms (in-process, `in-process.ts`; worker
 * threads, `worker-pool.ts`) and the messages between the pool and its workers (`worker.ts`).
 * Types only: every module of the engine imports this one, and it imports none of them.
 */
import type { Manifest } from '../manifest.js';

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

/**
 * One image as a forward pass takes it: decoded pixels (interleaved RGB bytes, see
 * `normalise.ts`), which the pass normalises, or an already-normalised row of the model's input
 * (`3 × width × height` float32 values in the manifest's layout), which it copies as it is.
 */
export type EngineInput = Uint8Array | Float32Array;

/** Runs forward passes on one or more sessions of the same model. */
export interface InferenceEngine extends SessionSignature {
  /** Forward passes that can run at the same time (one per session). */
  readonly slots: number;
  /**
   * One forward pass over images ({@link EngineInput}) gathered into one batch tensor; resolves
   * with the output, `images.length` rows. `disposable` are those of `images` that nobody reads
   * after this call (an upload's decoded pixels): an engine that copies them elsewhere may free
   * them once it has (`worker-pool.ts`); they then read as empty.
   */
  run(images: readonly EngineInput[], disposable?: readonly EngineInput[]): Promise<Float32Array>;
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

/** Messages between the engine and an inference worker. */
export type WorkerReply =
  | ({ readonly type: 'ready' } & SessionSignature)
  | { readonly type: 'failed'; readonly message: string }
  | { readonly type: 'result'; readonly id: number; readonly data: Float32Array }
  | { readonly type: 'error'; readonly id: number; readonly message: string };

/** The request a worker receives. */
export interface WorkerRequest {
  readonly id: number;
  readonly images: readonly EngineInput[];
}

/** Data a worker starts with. */
export interface WorkerInit {
  readonly model: Uint8Array;
  readonly io: ModelIO;
  readonly options: SessionOptions;
}
