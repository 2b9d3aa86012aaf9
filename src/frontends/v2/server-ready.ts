import type { operations } from '../../../generated/openapi.js';
import { NotReady } from '../../errors.js';
import { notReadyReasons, type Readiness } from '../../lifecycle/readiness.js';
import type { OperationHandler } from '../../http/operation.js';

type Ready = operations['getServerReady']['responses'][200]['content']['application/json'];

/**
 * `GET /v2/health/ready`: the protocol's readiness, 200 or 503 exactly when `GET /health/ready`
 * answers them. `live` repeats `ready`: the protocol's prose names the member so (see the spec).
 */
export function getServerReady(readiness: Readiness): OperationHandler {
  const body: Ready = { ready: true, live: true };
  return (_c, ctx) => {
    const { state } = readiness;
    if (state !== 'ready') throw new NotReady(notReadyReasons[state]);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = body;
  };
}
