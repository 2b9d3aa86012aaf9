import type { operations } from '../../../generated/openapi.js';
import type { ModelStatus } from '../../repository/types.js';

type Status = operations['loadModel']['responses'][200]['content']['application/json'];

/** The answer of a load or an unload: the model's state, as the spec's `ModelStatus`. */
export function modelStatusBody(status: ModelStatus): Status {
  return {
    name: status.name,
    ...(status.serving === undefined ? {} : { serving: status.serving }),
    ...(status.pinned === undefined ? {} : { pinned: status.pinned }),
    versions: status.versions.map((e) => ({ ...e })),
  };
}
