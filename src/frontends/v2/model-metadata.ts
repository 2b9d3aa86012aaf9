import type { operations } from '../../../generated/openapi.js';
import { callerHasScope } from '../../auth/security-handler.js';
import type { OperationHandler } from '../../http/operation.js';
import type { InferenceCore } from '../../inference/core.js';
import { tensorSignatureOf } from '../../oip/tensors.js';
import { modelParams } from './params.js';

type ModelMetadata = operations['getModelMetadata']['responses'][200]['content']['application/json'];

/**
 * The scope that shows the model file's SHA-256: the management API's. The hash tells exactly
 * which file runs, which is what `/metrics` keeps behind `get::metrics`; an operator publishing
 * versions needs it, an anonymous caller of the public metadata does not.
 */
const SHA256_SCOPE = 'manage::models';

/**
 * `GET /v2/models/{name}[/versions/{version}]` (operations `getModelMetadata` and
 * `getModelVersionMetadata`): the inputs, outputs and labels of the version a request would run
 * on, and the versions that can be asked for (READY now). 404 / 503 as an inference would get.
 * `properties.sha256` only for a caller whose token grants `manage::models` (or when auth is off).
 */
export function getModelMetadata(core: InferenceCore): OperationHandler {
  return async (c, ctx) => {
    const { name, manifest, readyVersions } = core.describe(modelParams(c));
    const signature = tensorSignatureOf(manifest);
    const operator = await callerHasScope(c, SHA256_SCOPE);
    const body: ModelMetadata = {
      name,
      versions: [...readyVersions],
      platform: 'onnx_onnxv1',
      inputs: signature.inputs.map((t) => ({ ...t, shape: [...t.shape] })),
      outputs: signature.outputs.map((t) => ({ ...t, shape: [...t.shape] })),
      labels: [...manifest.labels],
      properties: { manifest: manifest.name, ...(operator ? { sha256: manifest.sha256 } : {}), layout: manifest.input.layout },
    };
    ctx.body = body;
  };
}
