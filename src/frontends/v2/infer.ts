import type { components } from '../../../generated/openapi.js';
import { callerSubject } from '../../auth/security-handler.js';
import { whileConnected } from '../../http/client-gone.js';
import type { OperationHandler } from '../../http/operation.js';
import { releaseBytes } from '../../release-bytes.js';
import type { InferenceCore } from '../../inference/core.js';
import type { PayloadBody, PayloadSink } from '../../inference/payload.js';
import { planInference, type BinaryPart } from '../../oip/request.js';
import { tensorSignatureOf } from '../../oip/tensors.js';
import { inSyncSpan, modelAttributes } from '../../tracing/tracer.js';
import type { InferenceBody } from './body.js';
import { modelParams } from './params.js';
import { inferenceAnswer } from './response.js';

type InferenceRequest = components['schemas']['V2InferenceRequest'];

/**
 * A request as the payload logger sends it: the JSON request; or, for the binary data extension,
 * the JSON header followed by the binary data (`headerLength` the header's length); or, for a raw
 * binary request (`Inference-Header-Content-Length: 0`), its bytes alone.
 */
function requestPayload(header: InferenceRequest, binary: BinaryPart | undefined): PayloadBody {
  if (!binary) return { contentType: 'application/json', data: JSON.stringify(header) };
  if (binary.raw) return { contentType: 'application/octet-stream', data: binary.tail, headerLength: 0 };
  const json = Buffer.from(JSON.stringify(header));
  return { contentType: 'application/octet-stream', data: Buffer.concat([json, binary.tail]), headerLength: json.length };
}

/** The bounds of a request: images per request (`MAX_BATCH_IMAGES`), bytes per image (`MAX_UPLOAD_BYTES`). */
export interface InferLimits {
  readonly maxBatchImages: number;
  readonly maxUploadBytes: number;
}

/**
 * `POST /v2/models/{name}[/versions/{version}]/infer` (operations `inferModel` and
 * `inferModelVersion`): the body (read and validated against the spec before) is planned against
 * the version's inputs and outputs and its images classified by the inference core, as an
 * upload's; the outputs asked for are written as JSON or with binary data. Without a version in
 * the path, the repository chooses as for `/upload` (the pinned version, else the newest READY
 * one); the answer's `model_version` names the version that ran. Every answer goes to the
 * payload logger, when there is one, with its request (see {@link requestPayload}).
 */
export function inferModel(core: InferenceCore, limits: InferLimits, payloads?: PayloadSink): OperationHandler {
  return async (c, ctx) => {
    const body = ctx.state.body as InferenceBody | undefined;
    // The V2 body reader reads it for every operation declaring the binary extension's header: a wiring bug, a 500.
    if (!body) throw new Error('inferModel: no inference body in the request state');
    const header = body.validated as InferenceRequest;
    const binary: BinaryPart | undefined = body.payload;
    const { client } = ctx.state;
    // Captured unless the request opts out (`X-Capture: off`, the only value the spec lets through).
    const origin = { source: 'v2' as const, subject: await callerSubject(c), requestId: ctx.state.requestId };
    const capture = ctx.get('x-capture').toLowerCase() !== 'off';
    const { id, plan, results, model, imagesHeld } = await whileConnected(ctx, (signal) => core.classifyBatch(
      modelParams(c),
      (version) => planInference(header, binary, tensorSignatureOf(version.manifest), { maxBatchImages: limits.maxBatchImages, maxImageBytes: limits.maxUploadBytes }),
      { signal, ...(client === undefined ? {} : { client }), origin, capture, onModel: (m) => (ctx.state.model = { name: m.name, version: m.version }) },
    ));
    ctx.state.prediction = results.length === 1 ? results[0]!.prediction : `${results.length} images`;
    // `id` in the answer: the request's own, as the protocol says, else the one the core made;
    // X-Inference-Id is always the captures' address (they differ for an id unfit for one).
    ctx.state.inferenceId = id;
    ctx.set('X-Inference-Id', id);
    const answer = inSyncSpan('encode', () => inferenceAnswer({ name: model.name, version: model.version }, { ...plan, id: plan.id ?? id }, results), modelAttributes(model));
    payloads?.offer({
      id,
      source: 'v2',
      model: model.name,
      version: model.version,
      requestId: ctx.state.requestId,
      request: () => requestPayload(header, binary),
      response: () => answer.kind === 'json'
        ? { contentType: 'application/json', data: JSON.stringify(answer.body) }
        : { contentType: 'application/octet-stream', data: answer.body, headerLength: answer.headerLength },
    });
    if (answer.kind === 'json') {
      ctx.body = answer.body;
    } else {
      ctx.set('Inference-Header-Content-Length', String(answer.headerLength));
      ctx.type = 'application/octet-stream';
      ctx.body = answer.body;
    }
    // Nothing reads the body once answered, unless the shadow or the payload logger kept its images.
    if (body.bytes && !imagesHeld && !payloads) releaseBytes(body.bytes);
  };
}
