import type { operations } from '../../../generated/openapi.js';
import type { OperationHandler } from '../../http/operation.js';

type Live = operations['getServerLive']['responses'][200]['content']['application/json'];

/** `GET /v2/health/live`: the protocol's liveness, as `GET /health/live`. */
export function getServerLive(): OperationHandler {
  const body: Live = { live: true };
  return (_c, ctx) => {
    ctx.body = body;
  };
}
