/**
 * `ModelInfer`: a protobuf request → the protocol's request shape (`request.ts`) → planned by
 * `src/oip/request.ts` against the version the core leases → classified by the inference core, as
 * a REST V2 request's or an upload's images (same admission, batcher, leases, metrics) → the
 * outputs asked for (`src/oip/outputs.ts`), as typed contents (`fp32_contents`,
 * `bytes_contents`), or as `raw_output_contents` when the request sent `raw_input_contents`.
 *
 * Before it waits for admission, the message holds its size in the inference memory budget
 * shared with REST bodies (`INFER_BODY_MEMORY_MIB`): gRPC has received it whole by then (at
 * most `MAX_INFER_BODY_BYTES`), and this bounds how many such messages wait at once.
 */
import type { ModelInferRequest__Output } from '../../../generated/grpc/inference/ModelInferRequest.js';
import type { ModelInferResponse } from '../../../generated/grpc/inference/ModelInferResponse.js';
import type { InferenceCore } from '../../inference/core.js';
import type { PayloadSink } from '../../inference/payload.js';
import type { Classification } from '../../model/postprocess.js';
import type { BodyMemory } from '../../oip/body-memory.js';
import { outputTensor, tensorBytes } from '../../oip/outputs.js';
import { planInference, type InferencePlan } from '../../oip/request.js';
import { tensorSignatureOf } from '../../oip/tensors.js';
import { releaseBackingBuffer } from '../../release-bytes.js';
import { inSyncSpan, modelAttributes } from '../../tracing/tracer.js';
import type { CallContext } from './call.js';
import { decodeInferRequest } from './request.js';

/** Bounds of inference requests (the configuration's `requests`). */
export interface GrpcInferLimits {
  /** Most images (or rows) per request (`MAX_BATCH_IMAGES`). */
  readonly maxBatchImages: number;
  /** Largest image, in bytes (`MAX_UPLOAD_BYTES`). */
  readonly maxUploadBytes: number;
}

/** What inference needs. */
export interface InferDeps {
  readonly core: InferenceCore;
  readonly limits: GrpcInferLimits;
  /** The budget shared with REST bodies. */
  readonly memory: BodyMemory;
  /** Where every inference's request and answer go (`PAYLOAD_LOGGER_URL`); default nowhere. */
  readonly payloads?: PayloadSink | undefined;
}

/**
 * A message as JSON for the payload logger: its fields as protobuf names them (`model_name`,
 * `raw_input_contents`), `bytes` fields in base64 as in protobuf's JSON mapping.
 */
function messageJson(message: object): string {
  return JSON.stringify(message, function (this: Record<string, unknown>, key, value: unknown) {
    // Before `Buffer.prototype.toJSON` turned it into `{type, data}`.
    const raw = this[key];
    return raw instanceof Uint8Array ? Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64') : value;
  });
}

/** The message's byte fields: its images (raw or typed `BYTES` contents), views of the buffer it was received in. */
function byteFields(message: ModelInferRequest__Output): Uint8Array[] {
  return [...message.raw_input_contents, ...message.inputs.flatMap((input) => input.contents?.bytes_contents ?? [])];
}

/** Memory a received message holds, estimated: its bytes (images are views of them), FP32 values as JavaScript numbers. */
function heldBytes(message: ModelInferRequest__Output): number {
  const fp32Values = message.inputs.reduce((sum, input) => sum + (input.contents?.fp32_contents.length ?? 0), 0);
  return byteFields(message).reduce((sum, b) => sum + b.length, 0) + fp32Values * 16;
}

/** The response to `plan` from its `results`. */
function inferResponse(model: { name: string; version: string }, plan: InferencePlan, results: readonly Classification[], raw: boolean): ModelInferResponse {
  const tensors = plan.outputs.map((output) => ({ name: output.name, tensor: outputTensor(output, results) }));
  const outputs = tensors.map(({ name, tensor }) => ({
    name,
    datatype: tensor.datatype,
    shape: tensor.shape,
    ...(raw
      ? {}
      : {
        contents: tensor.datatype === 'FP32'
          ? { fp32_contents: tensor.values }
          : { bytes_contents: tensor.values.map((s) => Buffer.from(s, 'utf8')) },
      }),
  }));
  return {
    model_name: model.name,
    model_version: model.version,
    ...(plan.id === undefined ? {} : { id: plan.id }),
    outputs,
    ...(raw ? { raw_output_contents: tensors.map(({ tensor }) => tensorBytes(tensor)) } : {}),
  };
}

/**
 * Answers one inference request (`ModelInfer`, and each request of `ModelStreamInfer`). An empty
 * `model_name` means the default model, an empty `model_version` the version the repository
 * chooses (the pinned one, else the newest READY one).
 */
export async function infer(deps: InferDeps, message: ModelInferRequest__Output, context: CallContext): Promise<ModelInferResponse> {
  const release = deps.memory.reserve(heldBytes(message));
  try {
    const decoded = decodeInferRequest(message);
    const { limits } = deps;
    // As a REST V2 request before its body: a client over its rate limit is refused here (after
    // waiting out a Retry-After it ignored); then the batch's images count against its limit, and
    // a batch the gate cannot hold whole is refused once planned (the message is read already).
    await deps.core.admitRequest(context.client, 'batch', { signal: context.signal });
    const { id, plan, results, model, imagesHeld } = await deps.core.classifyBatch(
      { name: message.model_name || undefined, version: message.model_version || undefined },
      (version) => planInference(decoded.request, decoded.binary, tensorSignatureOf(version.manifest), {
        maxBatchImages: limits.maxBatchImages,
        maxImageBytes: limits.maxUploadBytes,
      }),
      {
        signal: context.signal,
        client: context.client,
        origin: { source: 'grpc', subject: context.subject, requestId: context.requestId },
        capture: context.capture,
        onModel: (m) => (context.note.model = { name: m.name, version: m.version }),
      },
    );
    context.note.prediction = results.length === 1 ? results[0]!.prediction : `${results.length} images`;
    context.note.inferenceId = id;
    // The request's own id, as the protocol says, else the one the core made (its capture's address).
    const response = inSyncSpan('encode', () => inferResponse(model, { ...plan, id: plan.id ?? id }, results, decoded.raw), modelAttributes(model));
    deps.payloads?.offer({
      id,
      source: 'grpc',
      model: model.name,
      version: model.version,
      requestId: context.requestId,
      request: () => ({ contentType: 'application/json', data: messageJson(message) }),
      response: () => ({ contentType: 'application/json', data: messageJson(response) }),
    });
    // Nothing reads the message once answered, unless the shadow or the payload logger kept its
    // images: its buffer is freed now rather than by a full collection (src/release-bytes.ts).
    if (!imagesHeld && !deps.payloads) releaseBackingBuffer(byteFields(message));
    return response;
  } finally {
    release();
  }
}
