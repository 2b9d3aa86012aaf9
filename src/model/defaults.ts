/**
 * Defaults of how the classifier runs the model, measured best by `make bench` on 2 cores. The
 * one copy: `config.ts` uses them as the environment's defaults, `classifier.ts` for callers
 * that pass no options.
 */
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
