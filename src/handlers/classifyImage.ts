import type { operations } from '../../generated/openapi.js';
import { uploadedFiles } from '../http/api.js';
import type { Classifier } from '../model/classifier.js';
import type { OperationHandler } from './index.js';

type Prediction = operations['classifyImage']['responses'][200]['content']['application/json'];

/** `POST /upload`: classifies the `file` part (presence is checked against the spec before). */
export function classifyImage(classifier: Classifier): OperationHandler {
  return async (_c, ctx) => {
    const image = uploadedFiles(ctx).file!;
    const started = performance.now();
    const result = await classifier.classify(image);
    const body: Prediction = {
      prediction: result.prediction,
      values: [...result.values],
      labels: [...result.labels],
      model: classifier.name,
      elapsed_ms: Math.round((performance.now() - started) * 100) / 100,
    };
    ctx.state.prediction = result.prediction;
    ctx.body = body;
  };
}
