/**
 * One JSON log line per request, with a request id (an incoming `X-Request-Id` is honoured and
 * returned), the operation, the status, the problem code of a refusal, the duration, the model
 * and version that answered, the inference id of the answer and the prediction, and the trace and span ids when tracing is on. Never logs headers, the query string (a token could be there), nor the body.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from '../log.js';
import type { AppMiddleware } from './context.js';

const REQUEST_ID = /^[\w.:-]{1,128}$/;

/** Creates the request-logging middleware; handlers find their child logger in `ctx.state.log`. */
export function requestLogger(log: Logger): AppMiddleware {
  return async function logRequest(ctx, next) {
    const incoming = ctx.get('x-request-id');
    const id = REQUEST_ID.test(incoming) ? incoming : randomUUID();
    ctx.set('X-Request-Id', id);
    ctx.state.requestId = id;
    const child = log.child({ reqId: id });
    ctx.state.log = child;
    const started = performance.now();
    try {
      await next();
    } finally {
      child.info(
        {
          method: ctx.method,
          path: ctx.path,
          ...(ctx.state.operationId === undefined ? {} : { operation: ctx.state.operationId }),
          status: ctx.status,
          ...(ctx.state.problem === undefined ? {} : { problem: ctx.state.problem }),
          durationMs: Math.round((performance.now() - started) * 100) / 100,
          ...(ctx.state.model ? { model: ctx.state.model.name, modelVersion: ctx.state.model.version } : {}),
          ...(ctx.state.inferenceId ? { inferenceId: ctx.state.inferenceId } : {}),
          ...(ctx.state.prediction ? { prediction: ctx.state.prediction } : {}),
          ...(ctx.state.traceId ? { traceId: ctx.state.traceId, spanId: ctx.state.spanId } : {}),
        },
        'request',
      );
    }
  };
}
