/**
 * Defaults of how the model runs and how images are decoded: the one copy. The configuration's
 * schema (`src/config/schema.ts`) takes them as the environment's defaults, and the modules here
 * for callers that pass no options.
 */

/** How the classifier runs the model, measured best by `make bench` on 2 cores. */
export const classifierDefaults = Object.freeze({
  /** onnxruntime threads per operator. */
  intraOpThreads: 1,
  /**
   * Worker threads running sessions. Two, so that a forward pass runs while the other worker's
   * waits for decodes: with one, the two cores idled 13 % of the time at c=16 (from /proc/stat)
   * and two workers answered ×1.02–1.07 (c=4) and ×1.11–1.14 (c=16) the requests per second at the
   * same CPU per request (three `make bench` runs; docs/performance.md).
   */
  workers: 2,
  /** int8 weights kept signed where the CPU's kernels are exact, re-typed as uint8 elsewhere. */
  int8Weights: 'auto' as const,
  /**
   * Most images in one forward pass. 4 with two workers: as fast as 8 per image on this model, and
   * each session's activations take about half the memory (+10–25 MiB resident for the second
   * worker, against +65 MiB with batches of 8).
   */
  batchMaxSize: 4,
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
