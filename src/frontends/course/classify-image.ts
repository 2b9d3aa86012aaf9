import type { OperationHandler } from '../../http/operation.js';
import { releaseBytes } from '../../release-bytes.js';
import type { InferenceCore } from '../../inference/core.js';
import { inSyncSpan, modelAttributes } from '../../tracing/tracer.js';
import { imageMediaType, type PayloadSink } from '../../inference/payload.js';
import { answeredAs, askedModel, asRequest } from './model-query.js';
import { predictionBody } from './prediction.js';

/**
 * `POST /upload`: classifies the `file` part (presence is checked against the spec before) with
 * the default model, or the model and version of the `model` and `version` query parameters;
 * the answer names the version (`model_version`), the time the classification itself took and
 * the inference id (`id`, `X-Inference-Id`) its capture, if it is captured, is found under.
 * Every answer goes to the payload logger, when there is one: the image as the request event
 * (with the media type its bytes show), the answer's JSON as the response event. Once answered,
 * the upload's bytes are released at once (`src/release-bytes.ts`) unless a shadow classification
 * or the payload logger still holds them.
 */
export function classifyImage(core: InferenceCore, payloads?: PayloadSink): OperationHandler {
  return async (c, ctx) => {
    const image = ctx.state.upload?.file;
    // upload.ts refuses a request without it (the spec requires it): this is a wiring bug, a 500.
    if (!image) throw new Error('classifyImage: no `file` part in the request state');
    const { id, result, model, elapsedMs, imageHeld } = await asRequest(c, ctx, 'upload', (options) => core.classify(askedModel(c), image, options));
    ctx.state.prediction = result.prediction;
    answeredAs(ctx, id);
    const body = inSyncSpan('encode', () => predictionBody(result, model, elapsedMs, id), modelAttributes(model));
    ctx.body = body;
    payloads?.offer({
      id,
      source: 'upload',
      model: model.name,
      version: model.version,
      requestId: ctx.state.requestId,
      request: () => ({ contentType: imageMediaType(image), data: image }),
      response: () => ({ contentType: 'application/json', data: JSON.stringify(body) }),
    });
    if (!imageHeld && !payloads) releaseBytes(image);
  };
}
