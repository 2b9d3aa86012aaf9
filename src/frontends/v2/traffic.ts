/**
 * `GET` and `PUT /v2/repository/models/{model_name}/traffic`: a model's canary and shadow
 * between versions (see `RepositoryManagement.traffic` and `.setTraffic`; the core applies them,
 * `src/inference/traffic.ts`). Without management, 409 model-control-disabled.
 */
import type { operations } from '../../../generated/openapi.js';
import { ModelControlDisabled } from '../../errors.js';
import type { OperationHandler } from '../../http/operation.js';
import type { RepositoryManagement, TrafficStatus } from '../../repository/types.js';

type Setting = operations['setModelTraffic']['requestBody']['content']['application/json'];
type Body = operations['getModelTraffic']['responses'][200]['content']['application/json'];

/** The answer of both operations, as the spec's `TrafficStatus`. */
const trafficBody = (status: TrafficStatus): Body => ({
  name: status.name,
  ...(status.serving === undefined ? {} : { serving: status.serving }),
  canary: status.canary ? { ...status.canary } : null,
  shadow: status.shadow ? { ...status.shadow } : null,
  active: { ...status.active },
});

/** `GET …/traffic`. */
export function getModelTraffic(management: RepositoryManagement | undefined): OperationHandler {
  return (c, ctx) => {
    if (!management) throw new ModelControlDisabled();
    const { model_name: name } = c.request.params as operations['getModelTraffic']['parameters']['path'];
    ctx.body = trafficBody(management.traffic(name));
  };
}

/** `PUT …/traffic`. */
export function setModelTraffic(management: RepositoryManagement | undefined): OperationHandler {
  return async (c, ctx) => {
    if (!management) throw new ModelControlDisabled();
    const { model_name: name } = c.request.params as operations['setModelTraffic']['parameters']['path'];
    const body = c.request.requestBody as Setting;
    const status = await management.setTraffic(name, { canary: body.canary ?? null, shadow: body.shadow ?? null });
    ctx.state.log?.info({ model: name, canary: status.canary, shadow: status.shadow, serving: status.serving }, 'model traffic changed through the API');
    ctx.body = trafficBody(status);
  };
}
