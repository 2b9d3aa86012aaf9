/**
 * `POST /v2/repository/models/{model_name}/load` and `/unload` (Triton's model repository
 * extension): the management API's two changes of what serves, answered with the model's state
 * once the change is done (see `RepositoryManagement.load` and `.unload`).
 *
 * - load: loads the model's newest version beside the one serving and switches to it, or loads
 *   and pins `parameters.version`;
 * - unload: stops serving the model, or only `parameters.version` (what replaces it is loaded
 *   before the switch).
 */
import type { operations } from '../../../generated/openapi.js';
import { ModelControlDisabled } from '../../errors.js';
import type { OperationHandler } from '../../http/operation.js';
import type { RepositoryManagement } from '../../repository/types.js';
import { modelStatusBody } from './model-status.js';

type ChangeRequest = NonNullable<operations['loadModel' | 'unloadModel']['requestBody']>['content']['application/json'];

/** The handler of `change` (`load` or `unload`); without management, 409 model-control-disabled. */
export function changeModel(management: RepositoryManagement | undefined, change: 'load' | 'unload'): OperationHandler {
  return async (c, ctx) => {
    if (!management) throw new ModelControlDisabled();
    const { model_name: name } = c.request.params as operations['loadModel']['parameters']['path'];
    const version = (c.request.requestBody as ChangeRequest | undefined)?.parameters?.version;
    const status = await management[change](name, version);
    ctx.state.log?.info({ model: name, version, serving: status.serving }, `model ${change}ed through the API`);
    ctx.body = modelStatusBody(status);
  };
}
