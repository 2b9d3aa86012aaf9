/**
 * Defaults of how the model runs and how images are decoded: the one copy. The configuration's
 * schema (`src/config/schema.ts`) takes them as the environment's defaults, and the modules here
 * for callers that pass no options.
 */

/** How the classifier runs the model, measured best by `make bench` on 2 cores. */
export const classifierDefaults = Object.freeze({
  /** onnxruntime threads per operator. */
  intraOpThreads: 1,
  /** Worker threads running sessions. */
  workers: 1,
  /** int8 weights kept signed where the CPU's kernels are exact, re-typed as uint8 elsewhere. */
  int8Weights: 'auto' as const,
  /** Most images in one forward pass. */
  batchMaxSize: 8,
  /** Longest wait for more images when the model is idle, in milliseconds. */
  batchMaxWaitMs: 0,
});

/** Bounds of decoding one image. */
export const imageDefaults = Object.freeze({
  /** Most scans in a JPEG, counted from its markers before decoding (baseline: 1, progressive: about 10). */
  maxJpegScans: 100,
  /** Longest decode and resize of one image, in seconds (sharp's `timeout`). */
  decodeTimeoutSeconds: 10,
});
