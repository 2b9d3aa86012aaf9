/**
 * Runs work on a leased model version, the way every request does.
 *
 * ```ts
 * const answer = await withModel(repository, 'catdog', undefined, ({ classifier }) => classifier.classify(image));
 * ```
 */
import type { ModelRepository, ServedModel } from './types.js';

/**
 * Leases `version` of `name` (or the version the repository chooses, see
 * {@link ModelRepository.acquire}), runs `use` on it and releases the lease when `use` settles:
 * a swap meanwhile lets the work finish on the version it started on.
 *
 * @throws what `acquire` throws (model-not-found, model-unavailable), before `use` runs.
 */
export async function withModel<T>(
  repository: ModelRepository,
  name: string,
  version: string | undefined,
  use: (model: ServedModel) => Promise<T>,
): Promise<T> {
  const lease = repository.acquire(name, version);
  try {
    return await use(lease.model);
  } finally {
    lease.release();
  }
}
