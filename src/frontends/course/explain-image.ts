import type { operations } from '../../../generated/openapi.js';
import { NotAcceptable } from '../../errors.js';
import type { Admission } from '../../inference/admission.js';
import { whileConnected } from '../../http/client-gone.js';
import type { AppContext } from '../../http/context.js';
import type { Grid } from '../../model/explain/occlusion.js';
import { overlayPng } from '../../model/explain/overlay.js';
import type { ModelRepository, ServedModel } from '../../repository/types.js';
import type { OperationHandler } from '../../http/operation.js';
import { withAskedModel } from './model-query.js';

type Explanation = operations['explainImage']['responses'][200]['content']['application/json'];

/** The answers `POST /explain` can give, the first when `Accept` does not prefer one. */
const answers = ['application/json', 'image/png'] as const;

/** Longest side of the PNG answer, in pixels. */
const pictureMaxSide = 640;

/** How explanations run: their grid, and their own admission gate. */
export interface ExplainSettings {
  readonly grid: Grid;
  /** `EXPLAIN_MAX_INFLIGHT` / `EXPLAIN_MAX_QUEUE`: apart from the uploads' gate. */
  readonly admission: Admission;
  /**
   * The uploads' gate: each decode of an explanation (the model's input, and the picture of a
   * PNG answer) takes one of its slots while it runs, counted against the decode memory budget.
   */
  readonly decodes: Admission;
}

/**
 * `POST /explain`: classifies the `file` part and explains the answer by occlusion (see
 * `model/explain.ts`), as JSON or as the photo with the heatmap over it (`Accept: image/png`).
 * An explanation costs about 50 classifications: explanations have their own admission gate,
 * and their model work yields to uploads in the batcher.
 */
export function explainImage(repository: ModelRepository, settings: ExplainSettings): OperationHandler {
  return async (c, ctx) => {
    const image = ctx.state.upload?.file;
    // upload.ts refuses a request without it (the spec requires it): this is a wiring bug, a 500.
    if (!image) throw new Error('explainImage: no `file` part in the request state');
    const wanted = ctx.accepts(...answers);
    if (wanted === false) throw new NotAcceptable(ctx.get('accept'), answers);
    // The version is leased for the whole explanation: a swap lets it finish on the same model.
    await withAskedModel(repository, c, ctx, (model) => explainWith(model, image, wanted, ctx, settings));
  };
}

/** Explains `image` with `model` and writes the answer (see {@link explainImage}). */
async function explainWith(
  model: ServedModel,
  image: Buffer,
  wanted: string,
  ctx: AppContext,
  settings: ExplainSettings,
): Promise<void> {
  const { classifier } = model;
  // What can be refused from the header (not an image, too many pixels, a decode bomb) is, at once.
  const header = await classifier.inspect(image);
  // A client that hangs up gives its slot up, or stops its explanation within a batch.
  await whileConnected(ctx, async (signal) => {
    let started = 0;
    const decoding = <T>(decode: () => Promise<T>): Promise<T> =>
      settings.decodes.run(decode, { costBytes: header.decodeBytes, signal });
    const { result, picture } = await settings.admission.run(async () => {
      started = performance.now();
      const result = await classifier.explain(image, { grid: settings.grid, signal, header, decoding });
      const picture = wanted === 'image/png'
        ? await decoding(() => overlayPng(image, result.heatmap, result.region, { maxSide: pictureMaxSide }))
        : undefined;
      return { result, picture };
    }, { signal });
    ctx.state.prediction = result.prediction;
    ctx.vary('Accept');
    if (picture) {
      ctx.type = 'image/png';
      ctx.body = picture;
      return;
    }
    const body: Explanation = {
      prediction: result.prediction,
      values: [...result.values],
      labels: [...result.labels],
      model: classifier.name,
      model_version: model.version,
      elapsed_ms: Math.round((performance.now() - started) * 100) / 100,
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
  });
}
