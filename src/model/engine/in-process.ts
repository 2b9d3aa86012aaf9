/**
 * The inference engine on the event loop (`INFERENCE_WORKERS=0`): one session, whose forward
 * pass blocks the event loop while it runs (see `create.ts`).
 */
import * as ort from 'onnxruntime-node';
import { batchRunner, ortSessionOptions, signatureOf } from './session.js';
import type { InferenceEngine, ModelIO, SessionOptions } from './types.js';

/** Creates one session in this thread; rejects when onnxruntime cannot load the model. */
export async function createInProcessEngine(model: Uint8Array, io: ModelIO, options: SessionOptions): Promise<InferenceEngine> {
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
