import type { components } from '../../../generated/openapi.js';
import { whileConnected } from '../../http/client-gone.js';
import type { Admission } from '../../inference/admission.js';
import type { Metrics } from '../../metrics.js';
import { withModel } from '../../repository/lease.js';
import type { ModelRepository } from '../../repository/types.js';
import { classifyBatch } from '../../inference/classify-batch.js';
import { planInference } from '../../oip/request.js';
import { inferenceAnswer } from './response.js';
import { signatureOf } from '../../oip/tensors.js';
import type { OperationHandler } from '../../http/operation.js';
import { modelParams } from './params.js';

type InferenceRequest = components['schemas']['V2InferenceRequest'];

/** The bound on images per request (`MAX_BATCH_IMAGES`). */
export interface InferLimits {
  readonly maxBatchImages: number;
}

/**
 * `POST /v2/models/{name}[/versions/{version}]/infer` (operations `inferModel` and
 * `inferModelVersion`): the body (read and validated against the spec before) is planned against
 * the leased version's inputs and outputs, its images classified through the upload's path
 * (`src/inference/classify-batch.ts`), and the outputs asked for written as JSON or with binary data.
 * Without a version in the path, the repository chooses as for `/upload` (the pinned version,
 * else the newest READY one); the answer's `model_version` names the version that ran. The
 * version stays leased until the answer is computed: a swap meanwhile lets it finish there.
 */
export function inferModel(repository: ModelRepository, admission: Admission, metrics: Metrics, limits: InferLimits): OperationHandler {
  return async (c, ctx) => {
    const body = ctx.state.inference;
    // api.ts reads it for every operation declaring the binary extension's header: a wiring bug, a 500.
    if (!body) throw new Error('inferModel: no inference body in the request state');
    const { name, version } = modelParams(c);
    await withModel(repository, name, version, async (model) => {
      ctx.state.model = { name: model.name, version: model.version };
      const plan = planInference(body.header as InferenceRequest, body.binary, signatureOf(model.manifest), limits.maxBatchImages);
      const count = plan.batch.kind === 'images' ? plan.batch.images.length : plan.batch.rows.length;
      metrics.observeInferenceBatch(count);
      const results = await whileConnected(ctx, (signal) => classifyBatch(plan.batch, {
        classifier: model.classifier,
        admission,
        signal,
        observe: (timings) => metrics.observeClassification(timings, model),
      }));
      ctx.state.prediction = results.length === 1 ? results[0]!.prediction : `${results.length} images`;
      const answer = inferenceAnswer({ name: model.name, version: model.version }, plan, results);
      if (answer.kind === 'json') {
        ctx.body = answer.body;
      } else {
        ctx.set('Inference-Header-Content-Length', String(answer.headerLength));
        ctx.type = 'application/octet-stream';
        ctx.body = answer.body;
      }
    });
  };
}
