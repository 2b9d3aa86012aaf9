/**
 * Classifications → the protocol's inference response: the outputs asked for, in the order
 * asked, one row per image in the order of the request; JSON, or a JSON header followed by the
 * binary outputs (binary tensor data extension).
 *
 * `probabilities` in JSON are the very numbers `/upload` answers in `values`; as binary FP32
 * they are those numbers rounded to float32. A classification element is
 * `"<value>:<index>:<label>"` (Triton's classification extension), the value with six decimals
 * as Triton writes it, highest first, ties in label order.
 */
import type { components } from '../../../generated/openapi.js';
import type { Classification } from '../../model/postprocess.js';
import { writeBody, writeBytesElements, writeFp32 } from '../../oip/binary.js';
import type { InferencePlan, RequestedOutput } from '../../oip/request.js';

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

/** One output's tensor, before it is put into JSON or bytes. */
interface Tensor {
  readonly datatype: 'FP32' | 'BYTES';
  readonly shape: number[];
  /** Numbers for FP32, strings for BYTES, row-major. */
  readonly values: number[] | string[];
}

/** The top `k` of one row, as classification elements. */
function topK(values: readonly number[], labels: readonly string[], k: number): string[] {
  return values
    .map((value, index) => ({ value, index }))
    .sort((a, b) => b.value - a.value || a.index - b.index)
    .slice(0, k)
    .map(({ value, index }) => `${value.toFixed(6)}:${index}:${labels[index]}`);
}

function tensorOf(output: RequestedOutput, results: readonly Classification[]): Tensor {
  const n = results.length;
  if (output.name === 'label') return { datatype: 'BYTES', shape: [n], values: results.map((r) => r.prediction) };
  const k = output.classification;
  if (k !== undefined) return { datatype: 'BYTES', shape: [n, k], values: results.flatMap((r) => topK(r.values, r.labels, k)) };
  const labels = results[0]?.labels.length ?? 0;
  return { datatype: 'FP32', shape: [n, labels], values: results.flatMap((r) => r.values) };
}

function bytesOf(tensor: Tensor): Buffer {
  return tensor.datatype === 'FP32'
    ? writeFp32(tensor.values as number[])
    : writeBytesElements((tensor.values as string[]).map((s) => Buffer.from(s, 'utf8')));
}

/** Builds the response to `plan` from its `results` (one per image, in order). */
export function inferenceAnswer(model: Answerer, plan: InferencePlan, results: readonly Classification[]): InferenceAnswer {
  const binaries: Buffer[] = [];
  const outputs: ResponseOutput[] = plan.outputs.map((output) => {
    const tensor = tensorOf(output, results);
    if (!output.binary) return { name: output.name, datatype: tensor.datatype, shape: tensor.shape, data: tensor.values };
    const bytes = bytesOf(tensor);
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
