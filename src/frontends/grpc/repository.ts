/**
 * Triton's model repository RPCs, answered as the REST management API (`POST /v2/repository/...`)
 * answers, with the same scope (`manage::models`):
 *
 * - `RepositoryIndex`: every version of every model with its state and reason; `ready: true`
 *   keeps the READY ones. Without management (a fixed model), the repository's own index.
 * - `RepositoryModelLoad`: loads the model's newest version beside the one serving and switches
 *   to it, or loads and pins the version named by the parameter `version` (a string or an int64).
 * - `RepositoryModelUnload`: stops serving the model, or only the version the parameter names.
 *
 * `repository_name` is ignored (one repository). Errors as REST's: NOT_FOUND, ABORTED
 * (model-busy), FAILED_PRECONDITION (model-control-disabled, model-load-failed).
 */
import type { ModelRepositoryParameter__Output } from '../../../generated/grpc/inference/ModelRepositoryParameter.js';
import type { RepositoryIndexRequest__Output } from '../../../generated/grpc/inference/RepositoryIndexRequest.js';
import type { RepositoryIndexResponse } from '../../../generated/grpc/inference/RepositoryIndexResponse.js';
import type { RepositoryModelLoadRequest__Output } from '../../../generated/grpc/inference/RepositoryModelLoadRequest.js';
import type { RepositoryModelUnloadRequest__Output } from '../../../generated/grpc/inference/RepositoryModelUnloadRequest.js';
import { ModelControlDisabled, ValidationFailed } from '../../errors.js';
import type { IndexEntry, RepositoryManagement } from '../../repository/types.js';
import type { CallContext } from './call.js';

/** The version a load or unload names in its parameters, if any. */
function versionParameter(parameters: Readonly<Record<string, ModelRepositoryParameter__Output>>): string | undefined {
  const parameter = parameters.version;
  if (parameter === undefined) return undefined;
  const value = parameter.parameter_choice === undefined ? undefined : parameter[parameter.parameter_choice];
  const version = typeof value === 'number' ? String(value) : value;
  if (typeof version !== 'string' || !/^[1-9][0-9]{0,14}$/.test(version)) {
    throw new ValidationFailed('The parameter "version" must be a version number (a string or an int64, e.g. "2")', [
      { pointer: '/parameters/version', message: 'must be a positive integer' },
    ]);
  }
  return version;
}

/** The handlers, by RPC. */
export function repositoryHandlers(index: () => readonly IndexEntry[], management: RepositoryManagement | undefined) {
  const change = (kind: 'load' | 'unload') =>
    async (request: RepositoryModelLoadRequest__Output | RepositoryModelUnloadRequest__Output, context: CallContext): Promise<object> => {
      if (!management) throw new ModelControlDisabled();
      const version = versionParameter(request.parameters);
      const status = await management[kind](request.model_name, version);
      context.log.info({ model: request.model_name, version, serving: status.serving }, `model ${kind}ed through gRPC`);
      context.note.model = { name: request.model_name, version: status.serving ?? version ?? '' };
      return {};
    };
  return {
    RepositoryIndex: async (request: RepositoryIndexRequest__Output): Promise<RepositoryIndexResponse> => {
      const entries = management ? await management.refreshIndex() : index();
      return { models: entries.filter((e) => !request.ready || e.state === 'READY').map((e) => ({ ...e })) };
    },
    RepositoryModelLoad: change('load'),
    RepositoryModelUnload: change('unload'),
  };
}
