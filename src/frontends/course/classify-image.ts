import type { OperationHandler } from '../../http/operation.js';
import type { InferenceCore } from '../../inference/core.js';
import { askedModel, asRequest } from './model-query.js';
import { predictionBody } from './prediction.js';

/**
 * `POST /upload`: classifies the `file` part (presence is checked against the spec before) with
 * the default model, or the model and version of the `model` and `version` query parameters;
 * the answer names the version (`model_version`) and the time the classification itself took.
 */
export function classifyImage(core: InferenceCore): OperationHandler {
  return async (c, ctx) => {
    const image = ctx.state.upload?.file;
    // upload.ts refuses a request without it (the spec requires it): this is a wiring bug, a 500.
    if (!image) throw new Error('classifyImage: no `file` part in the request state');
    const { result, model, elapsedMs } = await asRequest(ctx, (options) => core.classify(askedModel(c), image, options));
    ctx.state.prediction = result.prediction;
    ctx.body = predictionBody(result, model, elapsedMs);
  };
}
