import type { operations } from '../../../generated/openapi.js';
import { NotAcceptable } from '../../errors.js';
import type { OperationHandler } from '../../http/operation.js';
import type { InferenceCore } from '../../inference/core.js';
import { answeredAs, askedModel, asRequest } from './model-query.js';
import { predictionBody } from './prediction.js';

type Explanation = operations['explainImage']['responses'][200]['content']['application/json'];

/** The answers `POST /explain` can give, the first when `Accept` does not prefer one. */
const answers = ['application/json', 'image/png'] as const;

/** Longest side of the PNG answer, in pixels. */
const pictureMaxSide = 640;

/**
 * `POST /explain`: classifies the `file` part and explains the answer by occlusion (see
 * `src/model/explain/`), as JSON or as the photo with the heatmap over it (`Accept: image/png`).
 */
export function explainImage(core: InferenceCore): OperationHandler {
  return async (c, ctx) => {
    const image = ctx.state.upload?.file;
    // upload.ts refuses a request without it (the spec requires it): this is a wiring bug, a 500.
    if (!image) throw new Error('explainImage: no `file` part in the request state');
    const wanted = ctx.accepts(...answers);
    if (wanted === false) throw new NotAcceptable(ctx.get('accept'), answers);
    const picture = wanted === 'image/png' ? { maxSide: pictureMaxSide } : undefined;
    const explained = await asRequest(c, ctx, 'explain', (options) => core.explain(askedModel(c), image, { ...options, ...(picture ? { picture } : {}) }));
    const { id, result, model } = explained;
    ctx.state.prediction = result.prediction;
    answeredAs(ctx, id);
    ctx.vary('Accept');
    if (explained.picture) {
      ctx.type = 'image/png';
      ctx.body = explained.picture;
      return;
    }
    const body: Explanation = {
      ...predictionBody(result, model, explained.elapsedMs, id),
      passes: result.passes,
      heatmap: {
        label: result.prediction,
        rows: result.grid.rows,
        cols: result.grid.cols,
        values: result.heatmap,
        region: result.region,
      },
    };
    ctx.body = body;
  };
}
