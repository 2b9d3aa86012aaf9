import type { Metrics } from '../../metrics.js';
import type { OperationHandler } from '../../http/operation.js';

/** `GET /metrics`: the Prometheus text exposition of the app's registry. */
export function getMetrics(metrics: Metrics): OperationHandler {
  return async (_c, ctx) => {
    const text = await metrics.registry.metrics();
    ctx.set('Cache-Control', 'no-store');
    ctx.type = metrics.registry.contentType;
    ctx.body = text;
  };
}
