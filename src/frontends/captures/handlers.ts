/**
 * The captures' operations: `POST /feedback`, `GET /captures`, `GET /captures/{id}[/{index}]`
 * and their images. The request is valid against the spec before a handler runs (its body, its
 * query, its path parameters): a handler only asks the store.
 */
import { createReadStream } from 'node:fs';
import type { Context } from 'openapi-backend';
import type { operations } from '../../../generated/openapi.js';
import { callerSubject } from '../../auth/security-handler.js';
import type { CaptureOrder, CaptureStore, CaptureView } from '../../capture/types.js';
import { CaptureNotFound, CaptureUnavailable, UnknownLabel } from '../../errors.js';
import type { AppContext } from '../../http/context.js';
import type { OperationHandler } from '../../http/operation.js';
import { captureBody, labelStudioTask } from './views.js';

type FeedbackBody = operations['postFeedback']['requestBody']['content']['application/json'];

/** The store, once checked to be there and usable. */
function usable(store: CaptureStore | undefined): CaptureStore {
  if (!store) throw new CaptureUnavailable('Capture is off (CAPTURE_SAMPLE_RATE=0) and CAPTURE_DIR holds no captures');
  const availability = store.availability();
  if (!availability.available) throw new CaptureUnavailable(availability.reason);
  return store;
}

/** The capture id of a `/captures/{id}[/{index}]` path. */
function pathId(c: Context): string {
  const { id, index } = c.request.params as { id?: unknown; index?: unknown };
  return typeof index === 'string' ? `${String(id)}/${index}` : String(id);
}

/** The capture a path names, or 404. */
async function captureOf(store: CaptureStore, id: string): Promise<CaptureView> {
  const view = await usable(store).get(id);
  if (!view) throw new CaptureNotFound(id);
  return view;
}

/** `POST /feedback`: 204 once the label is recorded; 404 unknown id, 422 a label the model does not have. */
export function postFeedback(store: CaptureStore | undefined): OperationHandler {
  return async (c, ctx) => {
    const { id, label } = c.request.requestBody as FeedbackBody;
    const outcome = await usable(store).feedback(id, label, await callerSubject(c));
    if (outcome.kind === 'not-found') throw new CaptureNotFound(id);
    if (outcome.kind === 'unknown-label') throw new UnknownLabel({ name: outcome.model, version: outcome.version }, label, outcome.labels);
    ctx.state.prediction = outcome.label;
    ctx.status = 204;
  };
}

/** `GET /captures/{id}[/{index}]`: the capture and its feedback. */
export function getCapture(store: CaptureStore | undefined): OperationHandler {
  return async (c, ctx) => {
    const view = await captureOf(usable(store), pathId(c));
    ctx.set('Cache-Control', 'no-store');
    ctx.body = captureBody(view);
  };
}

/** `GET /captures/{id}[/{index}]/image`: the image as received, with the media type its bytes say. */
export function getCaptureImage(store: CaptureStore | undefined): OperationHandler {
  return async (c, ctx: AppContext) => {
    const id = pathId(c);
    const found = await usable(store).image(id);
    if (!found) throw new CaptureNotFound(id);
    const { file, view } = found;
    const etag = `"${view.image.sha256}"`;
    ctx.set('ETag', etag);
    // The same bytes for as long as the capture lives; only for the caller who may read it.
    ctx.set('Cache-Control', 'private, max-age=3600');
    // Bytes a client sent: whatever they are, a browser neither runs nor embeds anything of them.
    ctx.set('Content-Security-Policy', "default-src 'none'; sandbox");
    if (ctx.get('if-none-match') === etag) {
      ctx.status = 304;
      return;
    }
    ctx.type = view.image.mediaType ?? 'application/octet-stream';
    ctx.length = view.image.bytes;
    ctx.body = createReadStream(file);
  };
}

/** `GET /captures`: the captures in the order asked, as JSON or as Label Studio tasks. */
export function listCaptures(store: CaptureStore | undefined, baseUrl: string | undefined): OperationHandler {
  return async (c, ctx) => {
    const query = c.request.query as Record<string, string | undefined>;
    const views = await usable(store).list({
      order: (query.order ?? 'least-confidence') as CaptureOrder,
      labelled: query.labelled === undefined ? undefined : query.labelled === 'true',
      model: query.model,
      limit: query.limit === undefined ? 50 : Number(query.limit),
    });
    ctx.set('Cache-Control', 'no-store');
    if (query.format === 'label-studio') {
      const names = { fromName: query.from_name ?? 'choice', toName: query.to_name ?? 'image' };
      // This service as the client reached it (Koa's `ctx.origin` is the Origin header, not this).
      const base = baseUrl ?? `${ctx.protocol}://${ctx.host}`;
      ctx.body = views.map((view) => labelStudioTask(view, base, names));
      return;
    }
    ctx.body = { captures: views.map(captureBody) };
  };
}
