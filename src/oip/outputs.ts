/**
 * Classifications → the output tensors an inference request asked for, whatever the transport:
 * REST writes them as JSON or binary data (`src/frontends/v2/response.ts`), gRPC as typed
 * contents or raw bytes (`src/frontends/grpc/infer.ts`).
 *
 * - `label`: BYTES `[N]`, the predicted label of each image.
 * - `probabilities`: FP32 `[N, L]`, the very numbers `/upload` answers in `values` (as float32
 *   when written as bytes).
 * - `probabilities` with the classification parameter `k` (Triton's classification extension):
 *   BYTES `[N, k]`, each element `"<value>:<index>:<label>"`, the value with six decimals as
 *   Triton writes it, highest first, ties in label order.
 */
import type { Classification } from '../model/postprocess.js';
import { writeBytesElements, writeFp32 } from './binary.js';
import type { RequestedOutput } from './request.js';

/** One output's tensor, before a transport writes it. */
export type OutputTensor =
  | { readonly datatype: 'FP32'; readonly shape: number[]; readonly values: number[] }
  | { readonly datatype: 'BYTES'; readonly shape: number[]; readonly values: string[] };

/** The top `k` of one row, as classification elements. */
function topK(values: readonly number[], labels: readonly string[], k: number): string[] {
  return values
    .map((value, index) => ({ value, index }))
    .sort((a, b) => b.value - a.value || a.index - b.index)
    .slice(0, k)
    .map(({ value, index }) => `${value.toFixed(6)}:${index}:${labels[index]}`);
}

/** The tensor of `output` for `results` (one per image, in request order). */
export function outputTensor(output: RequestedOutput, results: readonly Classification[]): OutputTensor {
  const n = results.length;
  if (output.name === 'label') return { datatype: 'BYTES', shape: [n], values: results.map((r) => r.prediction) };
  const k = output.classification;
  if (k !== undefined) return { datatype: 'BYTES', shape: [n, k], values: results.flatMap((r) => topK(r.values, r.labels, k)) };
  const labels = results[0]?.labels.length ?? 0;
  return { datatype: 'FP32', shape: [n, labels], values: results.flatMap((r) => r.values) };
}

/** The tensor as the protocol's bytes: FP32 little-endian, BYTES as 4-byte-length-prefixed UTF-8 elements. */
export function tensorBytes(tensor: OutputTensor): Buffer {
  return tensor.datatype === 'FP32'
    ? writeFp32(tensor.values)
    : writeBytesElements(tensor.values.map((s) => Buffer.from(s, 'utf8')));
}
