import type { operations } from '../../../generated/openapi.js';
import { ModelControlDisabled } from '../../errors.js';
import type { RepositoryManagement } from '../../repository/types.js';
import type { OperationHandler } from '../../http/operation.js';
import { modelStatusBody } from './model-status.js';

type UnloadRequest = NonNullable<operations['unloadModel']['requestBody']>['content']['application/json'];

/**
 * `POST /v2/repository/models/{model_name}/unload`: stops serving the model, or only
 * `parameters.version` (what replaces it is loaded before the switch; see
 * `RepositoryManagement.unload`).
 */
export function unloadModel(management: RepositoryManagement | undefined): OperationHandler {
  return async (c, ctx) => {
    if (!management) throw new ModelControlDisabled();
    const { model_name: name } = c.request.params as operations['unloadModel']['parameters']['path'];
    const version = (c.request.requestBody as UnloadRequest | undefined)?.parameters?.version;
    const status = await management.unload(name, version);
    ctx.state.log?.info({ model: name, version, serving: status.serving }, 'model unloaded through the API');
    ctx.body = modelStatusBody(status);
  };
}
