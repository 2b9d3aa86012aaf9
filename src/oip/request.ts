/**
 * An inference request (already valid against the spec) → what to run and what to answer: the
 * images or tensor rows of the batch, in order, and the outputs asked for.
 *
 * Everything a client can get wrong is checked here, cheapest first and before anything large is
 * made: names, datatypes, shapes (a dimension of a billion is refused from the shape alone, as
 * is a batch over `MAX_BATCH_IMAGES`), then the data against the shape, then each element.
 */
import type { components } from '../../generated/openapi.js';
import { BatchTooLarge, BinaryDataInvalid, PayloadTooLarge, TensorInvalid, UnknownTensor } from '../errors.js';
import type { Batch } from '../inference/classify-batch.js';
import { BYTES_LENGTH_PREFIX, readBytesElements, readFp32, sliceTensors } from './binary.js';
import { IMAGE_INPUT, OUTPUTS, type ModelSignature, type OutputName } from './tensors.js';

type InferenceRequest = components['schemas']['V2InferenceRequest'];
type RequestInput = components['schemas']['V2RequestInput'];
type RequestOutput = components['schemas']['V2RequestOutput'];

/** The bytes after a binary request's JSON header. */
export interface BinaryPart {
  readonly tail: Buffer;
  /**
   * A raw binary request (`Inference-Header-Content-Length: 0`): the tail is one image, with or
   * without its 4-byte length, and the header was made up for it.
   */
  readonly raw: boolean;
}


/** An output to answer, as the request asked for it. */
export interface RequestedOutput {
  readonly name: OutputName;
  /** Returned as binary data after the JSON header. */
  readonly binary: boolean;
  /** The top `k` classes instead of the values (classification extension). */
  readonly classification?: number;
}

/** The bounds a request is planned within. */
export interface PlanLimits {
  /** Most images (or tensor rows) per request (`MAX_BATCH_IMAGES`). */
  readonly maxBatchImages: number;
  /** Largest encoded image, in bytes (`MAX_UPLOAD_BYTES`, an upload's limit); default none. */
  readonly maxImageBytes?: number;
}

/** What one request asks. */
export interface InferencePlan {
  readonly id: string | undefined;
  readonly batch: Batch;
  readonly outputs: readonly RequestedOutput[];
}

/** The header a raw binary request stands for: one image, every output as binary data. */
export function rawRequestHeader(bodyLength: number): InferenceRequest {
  return {
    inputs: [{ name: IMAGE_INPUT, datatype: 'BYTES', shape: [1], parameters: { binary_data_size: bodyLength } }],
    parameters: { binary_data_output: true },
  };
}

/**
 * Reads `request` against `signature`. The elements of the `image` input's `data` are base64
 * strings (JSON), or the bytes themselves where a transport carries bytes (gRPC's
 * `bytes_contents`).
 *
 * @throws {@link UnknownTensor}, {@link TensorInvalid}, {@link BinaryDataInvalid}, {@link BatchTooLarge},
 *   {@link PayloadTooLarge} (an image over `limits.maxImageBytes`).
 */
export function planInference(
  request: InferenceRequest,
  binary: BinaryPart | undefined,
  signature: ModelSignature,
  limits: PlanLimits,
): InferencePlan {
  const outputs = requestedOutputs(request, signature);
  const inputNames = signature.inputs.map((i) => i.name);
  const seen = new Set<string>();
  for (const input of request.inputs) {
    if (!inputNames.includes(input.name)) throw new UnknownTensor('input', input.name, inputNames);
    if (seen.has(input.name)) throw new TensorInvalid(`Input "${input.name}" is given twice`);
    seen.add(input.name);
  }
  if (request.inputs.length > 1) {
    throw new TensorInvalid(`Give either "${IMAGE_INPUT}" (encoded images) or "${signature.tensorInput?.name}" (normalised tensors), not both`);
  }
  const input = request.inputs[0]!;
  const count = batchSize(input, signature, limits.maxBatchImages);
  const data = binaryData(request, binary);

  if (input.name === IMAGE_INPUT) {
    const images = data ? imagesFromBinary(input, data, count, binary?.raw ?? false) : imagesFromJson(input, count);
    const max = limits.maxImageBytes;
    const large = max === undefined ? -1 : images.findIndex((image) => image.length > max);
    if (large >= 0) {
      throw new PayloadTooLarge(max!, `Image ${large} is ${images[large]!.length} bytes, over the limit of ${max} bytes per image`);
    }
    return { id: request.id, batch: { kind: 'images', images }, outputs };
  }
  const size = signature.tensorInput!.dims.reduce((a, b) => a * b, 1);
  const values = data ? fp32FromBinary(input, data, count * size) : fp32FromJson(input, count * size);
  const rows = Array.from({ length: count }, (_, i) => values.subarray(i * size, (i + 1) * size));
  return { id: request.id, batch: { kind: 'tensors', rows }, outputs };
}

/** The outputs asked for (all of them when none is named), with their parameters. */
function requestedOutputs(request: InferenceRequest, signature: ModelSignature): RequestedOutput[] {
  const binaryByDefault = request.parameters?.binary_data_output === true;
  const asked: readonly RequestOutput[] = request.outputs ?? OUTPUTS.map((name) => ({ name }));
  const names: readonly string[] = OUTPUTS;
  const seen = new Set<string>();
  return asked.map((output) => {
    if (!names.includes(output.name)) throw new UnknownTensor('output', output.name, signature.outputs.map((o) => o.name));
    if (seen.has(output.name)) throw new TensorInvalid(`Output "${output.name}" is asked for twice`);
    seen.add(output.name);
    const name = output.name as OutputName;
    const k = output.parameters?.classification;
    if (k !== undefined && name !== 'probabilities') {
      throw new TensorInvalid(`The classification parameter applies to "probabilities", not to "${name}"`);
    }
    return {
      name,
      binary: output.parameters?.binary_data ?? binaryByDefault,
      // Triton's text: the top-n of the output; there are no more classes than labels.
      ...(k === undefined ? {} : { classification: Math.min(k, signature.labels.length) }),
    };
  });
}

const describeShape = (shape: readonly number[]): string => `[${shape.join(', ')}]`;

/** The number of images the input's shape and datatype declare, checked against the model and the bound. */
function batchSize(input: RequestInput, signature: ModelSignature, maxBatchImages: number): number {
  const { name, shape, datatype } = input;
  const n = shape[0]!;
  if (name === IMAGE_INPUT) {
    if (datatype !== 'BYTES') throw new TensorInvalid(`Input "${name}" has datatype BYTES (encoded images), not ${datatype}`);
    // `[N]` as the metadata says; `[N, 1]` as clients that keep a dimension per element send it.
    if (shape.length > 2 || (shape.length === 2 && shape[1] !== 1)) {
      throw new TensorInvalid(`Input "${name}" has shape [N] (N images), not ${describeShape(shape)}`);
    }
  } else {
    const dims = signature.tensorInput!.dims;
    if (datatype !== 'FP32') throw new TensorInvalid(`Input "${name}" has datatype FP32, not ${datatype}`);
    if (shape.length !== 4 || dims.some((d, i) => shape[i + 1] !== d)) {
      throw new TensorInvalid(`Input "${name}" has shape [N, ${dims.join(', ')}], not ${describeShape(shape)}`);
    }
  }
  if (n > maxBatchImages) throw new BatchTooLarge(n, maxBatchImages);
  if (n === 0) throw new TensorInvalid(`Input "${name}" holds no image (shape ${describeShape(shape)})`);
  return n;
}

/** The input's binary tensor, when it has one (at most one input: checked before). */
function binaryData(request: InferenceRequest, binary: BinaryPart | undefined): Buffer | undefined {
  const input = request.inputs[0]!;
  const size = input.parameters?.binary_data_size;
  if (size === undefined) {
    if (input.data === undefined) throw new TensorInvalid(`Input "${input.name}" has neither "data" nor parameters.binary_data_size`);
    if (binary && binary.tail.length > 0) sliceTensors(binary.tail, []);
    return undefined;
  }
  if (input.data !== undefined) throw new TensorInvalid(`Input "${input.name}" has both "data" and parameters.binary_data_size`);
  if (!binary) {
    throw new BinaryDataInvalid(`Input "${input.name}" gives parameters.binary_data_size, but the request has no Inference-Header-Content-Length header`);
  }
  return sliceTensors(binary.tail, [{ name: input.name, size }])[0]!;
}

function imagesFromBinary(input: RequestInput, tensor: Buffer, count: number, raw: boolean): Buffer[] {
  if (raw) {
    // The whole body is one image; a client may still have framed it as a BYTES element. No
    // image format starts with its own length minus 4 as a little-endian uint32.
    const framed = tensor.length >= BYTES_LENGTH_PREFIX && tensor.readUInt32LE(0) === tensor.length - BYTES_LENGTH_PREFIX;
    return [framed ? tensor.subarray(BYTES_LENGTH_PREFIX) : tensor];
  }
  const images = readBytesElements(input.name, tensor, count);
  if (images.length !== count) {
    throw new TensorInvalid(`Input "${input.name}" has shape ${describeShape(input.shape)} (${count} images), but its binary data holds ${images.length > count ? 'more' : images.length}`);
  }
  return images;
}

/** The standard base64 alphabet (RFC 4648 §4), by character code. */
const BASE64_ALPHABET = new Uint8Array(128);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/') BASE64_ALPHABET[c.charCodeAt(0)] = 1;

/**
 * Whether `text` is padded base64 in the standard alphabet. A loop, not a regular expression: V8's
 * regular expressions recurse over a quantified group and overflow the stack on a photo of a few
 * megabytes (about 3.6 million characters).
 */
function isBase64(text: string): boolean {
  const length = text.length;
  if (length % 4 !== 0) return false;
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  for (let i = 0; i < length - padding; i++) {
    const code = text.charCodeAt(i);
    if (code >= 128 || BASE64_ALPHABET[code] === 0) return false;
  }
  return true;
}

function imagesFromJson(input: RequestInput, count: number): Uint8Array[] {
  const elements = flatten(input, count);
  return elements.map((element, i) => {
    if (element instanceof Uint8Array) return element;
    if (typeof element !== 'string') {
      throw new TensorInvalid(`Input "${input.name}" element ${i} is a ${typeof element}, not a string (the base64 of an image)`);
    }
    // MIME line breaks (`base64` without -w0) are tolerated; nothing else is.
    const text = element.includes('\n') ? element.replace(/\r?\n/g, '') : element;
    if (!isBase64(text)) throw new TensorInvalid(`Input "${input.name}" element ${i} is not base64 (standard alphabet, padded)`);
    return Buffer.from(text, 'base64');
  });
}

function fp32FromBinary(input: RequestInput, tensor: Buffer, values: number): Float32Array {
  if (tensor.length !== values * 4) {
    throw new TensorInvalid(`Input "${input.name}" has shape ${describeShape(input.shape)} (${values} FP32 values, ${values * 4} bytes), but its binary data has ${tensor.length} bytes`);
  }
  return readFp32(tensor);
}

function fp32FromJson(input: RequestInput, values: number): Float32Array {
  const elements = flatten(input, values);
  const out = new Float32Array(values);
  elements.forEach((element, i) => {
    if (typeof element !== 'number' || !Number.isFinite(element)) {
      throw new TensorInvalid(`Input "${input.name}" element ${i} is ${JSON.stringify(element)}, not a finite number`);
    }
    out[i] = element;
  });
  return out;
}

/**
 * The input's `data`, flattened (the protocol allows nested rows, at most one level per dimension
 * of its shape), checked to hold exactly `expected` elements; stops as soon as it holds more, or
 * nests deeper than the shape. Iterative: a body nested 100,000 deep is refused, not a stack overflow.
 */
function flatten(input: RequestInput, expected: number): unknown[] {
  const out: unknown[] = [];
  const data: unknown = input.data;
  const maxDepth = input.shape.length;
  // The arrays being walked, outermost first, with the index of the next item of each.
  const stack: { readonly items: readonly unknown[]; next: number }[] = [{ items: Array.isArray(data) ? data : [data], next: 0 }];
  while (stack.length > 0 && out.length <= expected) {
    const top = stack[stack.length - 1]!;
    if (top.next >= top.items.length) {
      stack.pop();
      continue;
    }
    const item = top.items[top.next++];
    if (!Array.isArray(item)) {
      out.push(item);
      continue;
    }
    if (stack.length >= maxDepth) {
      throw new TensorInvalid(`Input "${input.name}" has shape ${describeShape(input.shape)}, but its data is nested deeper than its ${maxDepth} dimension${maxDepth === 1 ? '' : 's'}`);
    }
    stack.push({ items: item, next: 0 });
  }
  if (out.length !== expected) {
    throw new TensorInvalid(`Input "${input.name}" has shape ${describeShape(input.shape)} (${expected} elements), but ${out.length > expected ? 'more' : out.length} data elements`);
  }
  return out;
}
