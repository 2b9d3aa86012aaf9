/**
 * Records every answered request in the metrics: count and latency by operation and status,
 * and refusals by problem code. Sits above the problem renderer, so it sees the final status.
 */
import type { Metrics } from '../metrics.js';
import type { AppMiddleware } from './context.js';

/** Creates the middleware; the operation id comes from the API wiring (`ctx.state.operationId`). */
export function requestMetrics(metrics: Metrics): AppMiddleware {
  return async function measureRequest(ctx, next) {
    const started = performance.now();
    try {
      await next();
    } finally {
      // Paths outside the spec (docs, unknown paths) share one label: a label per path would be
      // unbounded.
      const operation = ctx.state.operationId ?? 'none';
      metrics.observeRequest(operation, ctx.status, (performance.now() - started) / 1000);
      if (ctx.state.problem !== undefined) metrics.countRejection(ctx.state.problem);
    }
  };
}
