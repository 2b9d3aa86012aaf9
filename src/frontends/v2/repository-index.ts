import type { operations } from '../../../generated/openapi.js';
import type { IndexEntry, RepositoryManagement } from '../../repository/types.js';
import type { OperationHandler } from '../../http/operation.js';

type IndexRequest = NonNullable<operations['repositoryIndex']['requestBody']>['content']['application/json'];
type Index = operations['repositoryIndex']['responses'][200]['content']['application/json'];

/**
 * `POST /v2/repository/index`: every version of every model, with its state and the reason
 * (Triton's model repository extension); `{"ready": true}` keeps the READY ones. Without
 * management (a fixed model), the repository's own index.
 */
export function repositoryIndex(index: () => readonly IndexEntry[], management: RepositoryManagement | undefined): OperationHandler {
  return async (c, ctx) => {
    const request = c.request.requestBody as IndexRequest | undefined;
    const entries = management ? await management.refreshIndex() : index();
    const body: Index = entries.filter((e) => request?.ready !== true || e.state === 'READY').map((e) => ({ ...e }));
    ctx.set('Cache-Control', 'no-store');
    ctx.body = body;
  };
}
