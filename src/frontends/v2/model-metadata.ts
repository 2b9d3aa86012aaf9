import type { operations } from '../../../generated/openapi.js';
import type { ModelRepository } from '../../repository/types.js';
import { signatureOf } from '../../oip/tensors.js';
import type { OperationHandler } from '../../http/operation.js';
import { modelParams } from './params.js';

type ModelMetadata = operations['getModelMetadata']['responses'][200]['content']['application/json'];

/**
 * `GET /v2/models/{name}[/versions/{version}]` (operations `getModelMetadata` and
 * `getModelVersionMetadata`): the inputs, outputs and labels of the version a request would run
 * on, and the versions that can be asked for (READY now). 404 / 503 as the repository leases.
 */
export function getModelMetadata(repository: ModelRepository): OperationHandler {
  return (c, ctx) => {
    const { name, version } = modelParams(c);
    const lease = repository.acquire(name, version);
    try {
      const { manifest } = lease.model;
      const signature = signatureOf(manifest);
      const body: ModelMetadata = {
        name: lease.model.name,
        versions: [...repository.readyVersions(name)],
        platform: 'onnx_onnxv1',
        inputs: signature.inputs.map((t) => ({ ...t, shape: [...t.shape] })),
        outputs: signature.outputs.map((t) => ({ ...t, shape: [...t.shape] })),
        labels: [...manifest.labels],
        properties: { manifest: manifest.name, sha256: manifest.sha256, layout: manifest.input.layout },
      };
      ctx.body = body;
    } finally {
      lease.release();
    }
  };
}
