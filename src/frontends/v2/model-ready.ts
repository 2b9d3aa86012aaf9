import type { operations } from '../../../generated/openapi.js';
import type { ModelRepository } from '../../repository/types.js';
import type { OperationHandler } from '../../http/operation.js';
import { modelParams } from './params.js';

type ModelReady = operations['getModelReady']['responses'][200]['content']['application/json'];

/**
 * `GET /v2/models/{name}[/versions/{version}]/ready` (operations `getModelReady` and
 * `getModelVersionReady`): 200 when a request could run on it now; the repository's 404 (unknown)
 * or 503 (not READY) otherwise.
 */
export function getModelReady(repository: ModelRepository): OperationHandler {
  return (c, ctx) => {
    const { name, version } = modelParams(c);
    repository.acquire(name, version).release();
    const body: ModelReady = { name, ready: true };
    ctx.set('Cache-Control', 'no-store');
    ctx.body = body;
  };
}
