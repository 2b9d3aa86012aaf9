/**
 * What one request carries through the middleware stack (`ctx.state`), typed once for the whole
 * app: `new Koa<AppState>()`, and every middleware and handler receives an {@link AppContext}.
 *
 * Koa starts each request with an empty `state`, so every member is optional until the
 * middleware that owns it sets it.
 */
import type { Middleware, ParameterizedContext } from 'koa';
import type { ProblemCode } from '../errors.js';
import type { Logger } from '../log.js';

/** The file parts of a multipart request body, by field name, as `upload.ts` accepted them. */
export type UploadedFiles = Readonly<Record<string, Buffer>>;

/** A body read by a front-end's own reader (see `BodyReader` in `api.ts`). */
export interface ReadBody {
  /** What openapi-backend validates against the operation's request body: e.g. the JSON, or a binary body's JSON header. */
  readonly validated: unknown;
  /** What else the front-end's handler reads of it (e.g. the bytes after a binary body's JSON header). */
  readonly payload: unknown;
  /** Gives the body's memory reservation back; called once the answer is computed. */
  readonly release: () => void;
}

/** The request-scoped state, with the module that sets each member. */
export interface AppState {
  /** The request's child logger, carrying its request id (`request-log.ts`). */
  log?: Logger;
  /** The request's id, as in its log line and its `X-Request-Id` (`request-log.ts`). */
  requestId?: string;
  /** The inference id an answer was given under (the front-ends' handlers), for the request log. */
  inferenceId?: string;
  /** The spec's operationId once routed (`api.ts`); unset for the docs and unknown paths. */
  operationId?: string;
  /** The spec's path template once routed (`api.ts`), e.g. `/v2/models/{model_name}/infer`: the span's `http.route`. */
  route?: string;
  /** The request's trace and server span ids, when tracing is on (`tracing.ts`), for the request log. */
  traceId?: string;
  spanId?: string;
  /** Who the request is from, once authorised (`client-identity.ts`): a token's subject, or an address. */
  client?: string;
  /** The code of the problem the request was answered with (`problem.ts`). */
  problem?: ProblemCode;
  /** The label a classification answered (the front-ends' handlers), for the request log. */
  prediction?: string;
  /** The model and version a request runs on, once leased (the inference core tells), for the request log. */
  model?: { readonly name: string; readonly version: string };
  /** The file parts of a multipart body, once checked against the spec (`upload.ts`). */
  upload?: UploadedFiles;
  /** A body read by a front-end's reader, once read; released when answered (`api.ts`). */
  body?: ReadBody;
}

/** The Koa context of this app. */
export type AppContext = ParameterizedContext<AppState>;

/** A Koa middleware of this app. */
export type AppMiddleware = Middleware<AppState>;
