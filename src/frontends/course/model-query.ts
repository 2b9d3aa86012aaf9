import type { Context } from 'openapi-backend';
import type { AppContext } from '../../http/context.js';
import { withModel } from '../../repository/lease.js';
import type { ModelRepository, ServedModel } from '../../repository/types.js';

/**
 * Runs `use` on the model and version a classifying request asks for in its query (`model`,
 * `version`; validated against the spec before), by default the default model's serving version,
 * leased for as long as `use` runs (see {@link withModel}), and records them for the request log.
 *
 * @throws {@link ModelNotFound} or {@link ModelUnavailable} from the repository, before `use` runs.
 */
export function withAskedModel<T>(
  repository: ModelRepository,
  c: Context,
  ctx: AppContext,
  use: (model: ServedModel) => Promise<T>,
): Promise<T> {
  const query = c.request.query as { readonly model?: string; readonly version?: string };
  return withModel(repository, query.model ?? repository.defaultModel, query.version, (model) => {
    ctx.state.model = { name: model.name, version: model.version };
    return use(model);
  });
}
