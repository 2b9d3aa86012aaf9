/**
 * The model a course request asks for in its query: `model` and `version` (validated against the
 * spec before), by default the default model's serving version.
 */
import type { Context } from 'openapi-backend';
import { callerSubject } from '../../auth/security-handler.js';
import type { AppContext } from '../../http/context.js';
import type { CaptureSource } from '../../inference/capture.js';
import type { CallOptions, ModelRef } from '../../inference/core.js';
import { whileConnected } from '../../http/client-gone.js';

/** The query's model and version. */
export function askedModel(c: Context): ModelRef {
  const query = c.request.query as { readonly model?: string; readonly version?: string };
  return { name: query.model, version: query.version };
}

/**
 * Runs `call` with the options every course request passes the core: a signal that aborts when
 * the client hangs up, who the request is from (for the fair queues and rate limits), the version
 * that answers recorded for the request log, and where the call comes from for its capture
 * (`source`, the token's subject, the request id), unless the request opted out (`X-Capture: off`,
 * the only value the spec lets through).
 */
export async function asRequest<T>(c: Context, ctx: AppContext, source: CaptureSource, call: (options: CallOptions) => Promise<T>): Promise<T> {
  const { client } = ctx.state;
  const origin = { source, subject: await callerSubject(c), requestId: ctx.state.requestId };
  const capture = ctx.get('x-capture').toLowerCase() !== 'off';
  return whileConnected(ctx, (signal) =>
    call({ signal, ...(client === undefined ? {} : { client }), origin, capture, onModel: (model) => (ctx.state.model = { name: model.name, version: model.version }) }));
}

/** Tells the answer's inference id: in its `X-Inference-Id` and, for the request log, in the state. */
export function answeredAs(ctx: AppContext, id: string): void {
  ctx.state.inferenceId = id;
  ctx.set('X-Inference-Id', id);
}
