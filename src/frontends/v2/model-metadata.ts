import type { operations } from '../../../generated/openapi.js';
import type { OperationHandler } from '../../http/operation.js';
import type { InferenceCore } from '../../inference/core.js';
import { tensorSignatureOf } from '../../oip/tensors.js';
import { modelParams } from './params.js';

type ModelMetadata = operations['getModelMetadata']['responses'][200]['content']['application/json'];

/**
 * `GET /v2/models/{name}[/versions/{version}]` (operations `getModelMetadata` and
 * `getModelVersionMetadata`): the inputs, outputs and labels of the version a request would run
 * on, and the versions that can be asked for (READY now). 404 / 503 as an inference would get.
 */
export function getModelMetadata(core: InferenceCore): OperationHandler {
  return (c, ctx) => {
    const { name, manifest, readyVersions } = core.describe(modelParams(c));
    const signature = tensorSignatureOf(manifest);
    const body: ModelMetadata = {
      name,
      versions: [...readyVersions],
      platform: 'onnx_onnxv1',
      inputs: signature.inputs.map((t) => ({ ...t, shape: [...t.shape] })),
      outputs: signature.outputs.map((t) => ({ ...t, shape: [...t.shape] })),
      labels: [...manifest.labels],
      properties: { manifest: manifest.name, sha256: manifest.sha256, layout: manifest.input.layout },
    };
    ctx.body = body;
  };
}
