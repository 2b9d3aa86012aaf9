import type { operations } from '../../../generated/openapi.js';
import { whileConnected } from '../../http/client-gone.js';
import type { Admission } from '../../inference/admission.js';
import type { Metrics } from '../../metrics.js';
import type { ModelRepository } from '../../repository/types.js';
import type { OperationHandler } from '../../http/operation.js';
import { withAskedModel } from './model-query.js';

type Prediction = operations['classifyImage']['responses'][200]['content']['application/json'];

/**
 * `POST /upload`: classifies the `file` part (presence is checked against the spec before) with
 * the default model, or the model and version of the `model` and `version` query parameters;
 * the answer names the version (`model_version`). The version is leased for the whole request,
 * so that a swap lets it finish on the version it started on. The image's header is read first: what can be refused without
 * decoding is refused at once, and the decode's estimated memory chooses its lane in the
 * admission gate (a full queue answers 503 overloaded).
 */
export function classifyImage(repository: ModelRepository, admission: Admission, metrics: Metrics): OperationHandler {
  return async (c, ctx) => {
    const image = ctx.state.upload?.file;
    // upload.ts refuses a request without it (the spec requires it): this is a wiring bug, a 500.
    if (!image) throw new Error('classifyImage: no `file` part in the request state');
    await withAskedModel(repository, c, ctx, async (model) => {
      const { classifier } = model;
      const header = await classifier.inspect(image);
      let started = 0;
      const result = await whileConnected(ctx, (signal) =>
        admission.run(() => {
          // elapsed_ms is the classification itself, without the wait for a slot.
          started = performance.now();
          return classifier.classify(image, header);
        }, { costBytes: header.decodeBytes, signal }));
      if (result.timings) metrics.observeClassification(result.timings, model);
      const body: Prediction = {
        prediction: result.prediction,
        values: [...result.values],
        labels: [...result.labels],
        model: classifier.name,
        model_version: model.version,
        elapsed_ms: Math.round((performance.now() - started) * 100) / 100,
      };
      ctx.state.prediction = result.prediction;
      ctx.body = body;
    });
  };
}
