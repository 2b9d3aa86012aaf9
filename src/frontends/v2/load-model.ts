import type { operations } from '../../../generated/openapi.js';
import { ModelControlDisabled } from '../../errors.js';
import type { RepositoryManagement } from '../../repository/types.js';
import type { OperationHandler } from '../../http/operation.js';
import { modelStatusBody } from './model-status.js';

type LoadRequest = NonNullable<operations['loadModel']['requestBody']>['content']['application/json'];

/**
 * `POST /v2/repository/models/{model_name}/load`: loads the model's newest version beside the
 * one serving and switches to it, or loads and pins `parameters.version`; answers once it
 * serves (see `RepositoryManagement.load`).
 */
export function loadModel(management: RepositoryManagement | undefined): OperationHandler {
  return async (c, ctx) => {
    if (!management) throw new ModelControlDisabled();
    const { model_name: name } = c.request.params as operations['loadModel']['parameters']['path'];
    const version = (c.request.requestBody as LoadRequest | undefined)?.parameters?.version;
    const status = await management.load(name, version);
    ctx.state.log?.info({ model: name, version, serving: status.serving }, 'model loaded through the API');
    ctx.body = modelStatusBody(status);
  };
}
