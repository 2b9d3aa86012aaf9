/**
 * The operators' front-end: the probes a kubelet calls (`GET /health/live`, `GET /health/ready`)
 * and the Prometheus scrape (`GET /metrics`).
 */
import type { OperationHandlers } from '../../http/operation.js';
import type { InferenceCore } from '../../inference/core.js';
import type { Readiness } from '../../lifecycle/readiness.js';
import type { Metrics } from '../../metrics.js';
import { getLiveness } from './liveness.js';
import { getMetrics } from './metrics.js';
import { getReadiness } from './readiness.js';

/** The operations this front-end serves. */
export type OperationsOperations = 'getLiveness' | 'getReadiness' | 'getMetrics';

/** What the operators' front-end is built from. */
export interface OperationsDeps {
  readonly core: InferenceCore;
  readonly readiness: Readiness;
  readonly metrics: Metrics;
}

/** The operators' front-end's operation handlers. */
export function operationsHandlers(deps: OperationsDeps): Pick<OperationHandlers, OperationsOperations> {
  return {
    getLiveness: getLiveness(),
    getReadiness: getReadiness(deps.readiness, deps.core),
    getMetrics: getMetrics(deps.metrics),
  };
}
