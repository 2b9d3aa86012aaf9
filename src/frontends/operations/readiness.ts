import type { operations } from '../../../generated/openapi.js';
import { NotReady } from '../../errors.js';
import type { OperationHandler } from '../../http/operation.js';
import type { InferenceCore } from '../../inference/core.js';
import { notReadyReasons, type Readiness } from '../../lifecycle/readiness.js';

type Ready = operations['getReadiness']['responses'][200]['content']['application/json'];

/**
 * `GET /health/ready`: 200 once warmed up, 503 not-ready before that, while draining, and while
 * the default model cannot run.
 */
export function getReadiness(readiness: Readiness, core: InferenceCore): OperationHandler {
  return (_c, ctx) => {
    const { state } = readiness;
    if (state !== 'ready') throw new NotReady(notReadyReasons[state]);
    const body: Ready = { status: 'ready', model: core.describe({}).manifest.name };
    ctx.set('Cache-Control', 'no-store');
    ctx.body = body;
  };
}
