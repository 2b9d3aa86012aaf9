/**
 * A `ModelInferRequest` → the protocol's request shape and binary part that `src/oip/request.ts`
 * plans, so that REST and gRPC requests are read by the same rules; here only what is gRPC's own:
 *
 * - the checks the spec makes on a REST body before it is planned (at least one input, one to
 *   eight dimensions, none negative, a datatype of the protocol, `classification` ≥ 1);
 * - `contents`: the field of the tensor's datatype (`bytes_contents` for BYTES, `fp32_contents`
 *   for FP32) becomes `data`; elements in another field are refused, not ignored;
 * - `raw_input_contents`: one per input, in order, each a tensor as the binary tensor data
 *   extension lays it out (BYTES: each element a 4-byte little-endian length, then its bytes;
 *   FP32: little-endian values), exactly the binary part of a REST body; never with `contents`.
 *
 * REST's binary-data parameters (`binary_data_size`, `binary_data`, `binary_data_output`) are
 * dropped: over gRPC, outputs come as raw bytes exactly when the request sent raw inputs.
 */
import type { components } from '../../../generated/openapi.js';
import type { InferParameter__Output } from '../../../generated/grpc/inference/InferParameter.js';
import type { ModelInferRequest__Output } from '../../../generated/grpc/inference/ModelInferRequest.js';
import { BinaryDataInvalid, TensorInvalid, ValidationFailed } from '../../errors.js';
import type { BinaryPart } from '../../oip/request.js';

type InferenceRequest = components['schemas']['V2InferenceRequest'];
type RequestInput = components['schemas']['V2RequestInput'];
type Datatype = components['schemas']['V2Datatype'];
type ParameterValue = components['schemas']['V2ParameterValue'];

const DATATYPES: readonly string[] = ['BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64', 'FP16', 'FP32', 'FP64', 'BYTES'];
/** REST's binary tensor data extension's parameters: meaningless over gRPC. */
const REST_ONLY = new Set(['binary_data_size', 'binary_data', 'binary_data_output']);
/** The `contents` field of each datatype the service reads. */
const CONTENTS_FIELD = { BYTES: 'bytes_contents', FP32: 'fp32_contents' } as const;
const CONTENTS_FIELDS = ['bool_contents', 'int_contents', 'int64_contents', 'uint_contents', 'uint64_contents', 'fp32_contents', 'fp64_contents', 'bytes_contents'] as const;

/** A request read from protobuf: the shape `planInference` takes, and whether its outputs go raw. */
export interface DecodedRequest {
  readonly request: InferenceRequest;
  readonly binary: BinaryPart | undefined;
  /** The request sent `raw_input_contents`: answer with `raw_output_contents`. */
  readonly raw: boolean;
}

/** A parameter's value, whichever of its oneof fields is set. */
function parameterValue(parameter: InferParameter__Output): ParameterValue | undefined {
  const field = parameter.parameter_choice;
  return field === undefined ? undefined : (parameter[field]);
}

/** A parameters map as REST's JSON object, without REST's binary-data parameters. */
function parametersOf(map: Readonly<Record<string, InferParameter__Output>>): Record<string, ParameterValue> {
  const out: Record<string, ParameterValue> = {};
  for (const [name, parameter] of Object.entries(map)) {
    const value = parameterValue(parameter);
    if (value !== undefined && !REST_ONLY.has(name)) out[name] = value;
  }
  return out;
}

const invalid = (pointer: string, message: string): ValidationFailed =>
  new ValidationFailed(`The request does not match the contract: ${pointer.slice(1)} ${message}`, [{ pointer, message }]);

/**
 * Reads `message`.
 *
 * @throws {@link ValidationFailed}, {@link TensorInvalid}, {@link BinaryDataInvalid}.
 */
export function decodeInferRequest(message: ModelInferRequest__Output): DecodedRequest {
  if (message.inputs.length === 0) throw invalid('/inputs', 'must have at least one input');
  const raw = message.raw_input_contents;
  if (raw.length > 0 && raw.length !== message.inputs.length) {
    throw new BinaryDataInvalid(`The request has ${message.inputs.length} inputs but ${raw.length} raw_input_contents: give one per input, in order`);
  }
  const inputs = message.inputs.map((input, i): RequestInput => {
    const where = `/inputs/${i}`;
    if (!DATATYPES.includes(input.datatype)) throw invalid(`${where}/datatype`, `must be one of ${DATATYPES.join(', ')}`);
    if (input.shape.length < 1 || input.shape.length > 8) throw invalid(`${where}/shape`, 'must have 1 to 8 dimensions');
    if (input.shape.some((d) => !Number.isSafeInteger(d) || d < 0)) throw invalid(`${where}/shape`, 'must be non-negative integers');
    const parameters = parametersOf(input.parameters);
    const contents = input.contents;
    const given = contents ? CONTENTS_FIELDS.filter((field) => contents[field].length > 0) : [];
    const base = { name: input.name, datatype: input.datatype as Datatype, shape: [...input.shape] };
    if (raw.length > 0) {
      if (given.length > 0) throw new TensorInvalid(`Input "${input.name}" has contents, but the request sends raw_input_contents: use one or the other`);
      return { ...base, parameters: { ...parameters, binary_data_size: raw[i]!.length } };
    }
    const field = CONTENTS_FIELD[input.datatype as keyof typeof CONTENTS_FIELD] as (typeof CONTENTS_FIELDS)[number] | undefined;
    const other = given.find((f) => f !== field);
    if (other !== undefined) {
      throw new TensorInvalid(`Input "${input.name}" is ${input.datatype}: its elements go in contents.${field ?? '(a field of its datatype)'}, not ${other}`);
    }
    const data = field && contents ? contents[field] : [];
    return { ...base, ...(Object.keys(parameters).length > 0 ? { parameters } : {}), data: data as unknown as RequestInput['data'] & unknown[] };
  });
  const outputs = message.outputs.map((output, i) => {
    const parameters = parametersOf(output.parameters);
    const k = parameters.classification;
    if (k !== undefined && !(Number.isSafeInteger(k) && (k as number) >= 1)) {
      throw invalid(`/outputs/${i}/parameters/classification`, 'must be an integer of at least 1');
    }
    return { name: output.name, ...(Object.keys(parameters).length > 0 ? { parameters } : {}) };
  });
  const parameters = parametersOf(message.parameters);
  const request: InferenceRequest = {
    ...(message.id === '' ? {} : { id: message.id }),
    ...(Object.keys(parameters).length > 0 ? { parameters } : {}),
    inputs,
    ...(outputs.length > 0 ? { outputs } : {}),
  };
  // One input at most is valid (the planner says so); one raw tensor is its binary part as is.
  const binary = raw.length === 0 ? undefined : { tail: raw.length === 1 ? raw[0]! : Buffer.concat(raw), raw: false };
  return { request, binary, raw: raw.length > 0 };
}
