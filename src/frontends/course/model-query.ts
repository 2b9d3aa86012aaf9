/**
 * The model a course request asks for in its query: `model` and `version` (validated against the
 * spec before), by default the default model's serving version.
 */
import type { Context } from 'openapi-backend';
import type { AppContext } from '../../http/context.js';
import type { CallOptions, ModelRef } from '../../inference/core.js';
import { whileConnected } from '../../http/client-gone.js';

/** The query's model and version. */
export function askedModel(c: Context): ModelRef {
  const query = c.request.query as { readonly model?: string; readonly version?: string };
  return { name: query.model, version: query.version };
}

/**
 * Runs `call` with the options every course request passes the core: a signal that aborts when
 * the client hangs up, who the request is from, and the version that answers recorded for the
 * request log.
 */
export function asRequest<T>(ctx: AppContext, call: (options: CallOptions) => Promise<T>): Promise<T> {
  const { client } = ctx.state;
  return whileConnected(ctx, (signal) =>
    call({ signal, ...(client === undefined ? {} : { client }), onModel: (model) => (ctx.state.model = { name: model.name, version: model.version }) }));
}
