import type { operations } from '../../../generated/openapi.js';
import type { OperationHandler } from '../../http/operation.js';

type Health = operations['getHealth']['responses'][200]['content']['application/json'];

/** `GET /health`: the course's liveness answer, exactly `{"status":"OK"}`. */
export function getHealth(): OperationHandler {
  const body: Health = { status: 'OK' };
  return (_c, ctx) => {
    ctx.body = body;
  };
}
