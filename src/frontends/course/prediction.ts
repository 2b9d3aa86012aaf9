/**
 * The course's answer to a classification, as `/upload` gives it and `/explain` extends it:
 * `{"prediction": "Cat", "values": [p_cat, p_dog, p_other], …}` plus the labels, the model, its
 * version, the time the classification itself took and the inference id (fields added after the
 * course's: its clients read the first two).
 */
import type { operations } from '../../../generated/openapi.js';
import type { Answerer } from '../../inference/core.js';
import type { Classification } from '../../model/postprocess.js';

/** `POST /upload`'s answer. */
export type Prediction = operations['classifyImage']['responses'][200]['content']['application/json'];

/** The answer for `result`, given by `model` in `elapsedMs` (rounded to 0.01 ms) under the inference id `id`. */
export function predictionBody(result: Classification, model: Answerer, elapsedMs: number, id: string): Prediction {
  return {
    prediction: result.prediction,
    values: [...result.values],
    labels: [...result.labels],
    model: model.modelName,
    model_version: model.version,
    elapsed_ms: Math.round(elapsedMs * 100) / 100,
    id,
  };
}
