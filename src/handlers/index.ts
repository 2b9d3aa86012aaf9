/**
 * The operation handler map, typed from the generated spec types: an operation in the spec
 * without a handler here does not compile.
 */
import type { Admission } from '../lifecycle/admission.js';
import type { Readiness } from '../lifecycle/readiness.js';
import type { Metrics } from '../metrics.js';
import type { Classifier } from '../model/classifier.js';
import { classifyImage } from './classifyImage.js';
import { getHealth } from './getHealth.js';
import { getLiveness } from './getLiveness.js';
import { getMetrics } from './getMetrics.js';
import { getReadiness } from './getReadiness.js';
import type { OperationHandlers } from './handler.js';

/** Dependencies of the handlers. */
export interface HandlerDeps {
  readonly classifier: Classifier;
  readonly admission: Admission;
  readonly readiness: Readiness;
  readonly metrics: Metrics;
}

/** Builds the handler map. */
export function createHandlers(deps: HandlerDeps): OperationHandlers {
  return {
    getHealth: getHealth(),
    getLiveness: getLiveness(),
    getReadiness: getReadiness(deps.readiness, deps.classifier.name),
    getMetrics: getMetrics(deps.metrics),
    classifyImage: classifyImage(deps.classifier, deps.admission, deps.metrics),
  };
}
