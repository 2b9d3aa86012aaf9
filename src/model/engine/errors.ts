/**
 * Why the inference engine could not run a forward pass, or gave up.
 *
 * - `session-failed`: a worker could not create its onnxruntime session (at start-up, or as a
 *   crashed worker's replacement);
 * - `worker-exited`: the worker running a forward pass died ({@link InferenceWorkerExited});
 * - `inference-failed`: onnxruntime refused the forward pass;
 * - `engine-failed`: workers crashed too often, or a replacement could not start: the engine
 *   gave up (`InferenceEngine.failed`), with the last failure as its `cause`.
 */
export type InferenceErrorCode = 'session-failed' | 'worker-exited' | 'inference-failed' | 'engine-failed';

/** A failure of the inference engine; see {@link InferenceErrorCode}. */
export class InferenceError extends Error {
  readonly code: InferenceErrorCode;
  constructor(code: InferenceErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'InferenceError';
    this.code = code;
  }
}

/** Thrown to the forward pass a crashed worker was running. */
export class InferenceWorkerExited extends InferenceError {
  /** The worker thread's exit code. */
  readonly exitCode: number;
  constructor(exitCode: number) {
    super('worker-exited', `inference worker exited with code ${exitCode}`);
    this.name = 'InferenceWorkerExited';
    this.exitCode = exitCode;
  }
}
