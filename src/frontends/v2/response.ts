/**
 * Classifications → the protocol's REST inference response: the outputs asked for, in the order
 * asked, one row per image in the order of the request (their tensors: `src/oip/outputs.ts`);
 * JSON, or a JSON header followed by the binary outputs (binary tensor data extension).
 */
import type { components } from '../../../generated/openapi.js';
import type { Classification } from '../../model/postprocess.js';
import { writeBody } from '../../oip/binary.js';
import { outputTensor, tensorBytes } from '../../oip/outputs.js';
import type { InferencePlan } from '../../oip/request.js';

type InferenceResponse = components['schemas']['V2InferenceResponse'];
type ResponseOutput = components['schemas']['V2ResponseOutput'];

/** The model that answered: the protocol's `model_name` and `model_version`. */
export interface Answerer {
  readonly name: string;
  readonly version: string;
}

/** A response: JSON alone, or a JSON header and binary outputs. */
export type InferenceAnswer =
  | { readonly kind: 'json'; readonly body: InferenceResponse }
  | { readonly kind: 'binary'; readonly body: Buffer; readonly headerLength: number };

/** Builds the response to `plan` from its `results` (one per image, in order). */
export function inferenceAnswer(model: Answerer, plan: InferencePlan, results: readonly Classification[]): InferenceAnswer {
  const binaries: Buffer[] = [];
  const outputs: ResponseOutput[] = plan.outputs.map((output) => {
    const tensor = outputTensor(output, results);
    if (!output.binary) return { name: output.name, datatype: tensor.datatype, shape: tensor.shape, data: tensor.values };
    const bytes = tensorBytes(tensor);
    binaries.push(bytes);
    return { name: output.name, datatype: tensor.datatype, shape: tensor.shape, parameters: { binary_data_size: bytes.length } };
  });
  const header: InferenceResponse = {
    model_name: model.name,
    model_version: model.version,
    ...(plan.id === undefined ? {} : { id: plan.id }),
    outputs,
  };
  if (binaries.length === 0) return { kind: 'json', body: header };
  const { body, headerLength } = writeBody(header, binaries);
  return { kind: 'binary', body, headerLength };
}
