import type { operations } from '../../../generated/openapi.js';
import { NotReady } from '../../errors.js';
import type { Readiness } from '../../lifecycle/readiness.js';
import type { ModelRepository } from '../../repository/types.js';
import type { OperationHandler } from '../../http/operation.js';

type Ready = operations['getReadiness']['responses'][200]['content']['application/json'];

/** Why the service is not ready, by readiness state (`GET /v2/health/ready` says the same). */
export const notReadyReasons = {
  'warming-up': 'The model is warming up',
  draining: 'The service is shutting down',
  recovering: 'A crashed inference worker is being replaced',
  failed: 'The inference workers keep crashing; the process is stopping',
  loading: 'The default model is loading',
  unavailable: 'The default model has no version ready to serve',
} as const;

/**
 * `GET /health/ready`: 200 once warmed up, 503 not-ready before that, while draining, and while
 * the model cannot run.
 */
export function getReadiness(readiness: Readiness, repository: ModelRepository): OperationHandler {
  return (_c, ctx) => {
    const { state } = readiness;
    if (state !== 'ready') throw new NotReady(notReadyReasons[state]);
    const lease = repository.acquire(repository.defaultModel);
    const body: Ready = { status: 'ready', model: lease.model.manifest.name };
    lease.release();
    ctx.set('Cache-Control', 'no-store');
    ctx.body = body;
  };
}
