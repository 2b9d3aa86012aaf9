/**
 * The Label Studio front-end: an ML backend Label Studio connects to (project settings → Model →
 * Connect model, `http://<service>/label-studio`). It pre-annotates tasks through the inference
 * core, and turns annotations into feedback on the captures (`src/capture/types.ts`).
 */
import type { CaptureStore } from '../../capture/types.js';
import type { OperationHandlers } from '../../http/operation.js';
import type { InferenceCore } from '../../inference/core.js';
import type { CaptureSink } from '../../inference/capture.js';
import { createConnection } from './connection.js';
import { health, predict, setup, webhook } from './handlers.js';

/** The operations this front-end serves. */
export type LabelStudioOperations = 'labelStudioHealth' | 'labelStudioSetup' | 'labelStudioPredict' | 'labelStudioWebhook';

/** What the Label Studio front-end is built from. */
export interface LabelStudioDeps {
  readonly core: InferenceCore;
  readonly store: CaptureStore | undefined;
  readonly sink: CaptureSink | undefined;
  /** Label Studio's URL and API key; what they leave unset, Label Studio's setup call tells. */
  readonly url: string | undefined;
  readonly apiKey: string | undefined;
  /** Most bytes of a task image (`MAX_UPLOAD_BYTES`). */
  readonly maxImageBytes: number;
  /** Longest wait for a task image, in milliseconds. */
  readonly fetchTimeoutMs: number;
}

/** The Label Studio front-end's operation handlers. */
export function labelStudioHandlers(deps: LabelStudioDeps): Pick<OperationHandlers, LabelStudioOperations> {
  const shared = {
    core: deps.core,
    connection: createConnection(deps.url, deps.apiKey),
    limits: { maxBytes: deps.maxImageBytes, timeoutMs: deps.fetchTimeoutMs },
    store: deps.store,
    sink: deps.sink,
    captureWaitMs: 5_000,
  };
  return {
    labelStudioHealth: health(),
    labelStudioSetup: setup(shared),
    labelStudioPredict: predict(shared),
    labelStudioWebhook: webhook(shared),
  };
}
