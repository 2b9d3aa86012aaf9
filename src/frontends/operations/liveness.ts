import type { operations } from '../../../generated/openapi.js';
import type { OperationHandler } from '../../http/operation.js';

type Liveness = operations['getLiveness']['responses'][200]['content']['application/json'];

/** `GET /health/live`: the process answers; nothing else is checked (a restart would not help). */
export function getLiveness(): OperationHandler {
  const body: Liveness = { status: 'OK' };
  return (_c, ctx) => {
    ctx.body = body;
  };
}
