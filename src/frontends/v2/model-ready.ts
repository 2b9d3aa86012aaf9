import type { operations } from '../../../generated/openapi.js';
import type { OperationHandler } from '../../http/operation.js';
import type { InferenceCore } from '../../inference/core.js';
import { modelParams } from './params.js';

type ModelReady = operations['getModelReady']['responses'][200]['content']['application/json'];

/**
 * `GET /v2/models/{name}[/versions/{version}]/ready` (operations `getModelReady` and
 * `getModelVersionReady`): 200 when a request could run on it now; 404 (unknown) or 503 (not
 * READY) otherwise, as an inference would get.
 */
export function getModelReady(core: InferenceCore): OperationHandler {
  return (c, ctx) => {
    const { name } = core.describe(modelParams(c));
    const body: ModelReady = { name, ready: true };
    ctx.set('Cache-Control', 'no-store');
    ctx.body = body;
  };
}
