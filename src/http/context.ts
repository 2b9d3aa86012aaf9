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
import type { BinaryPart } from '../oip/request.js';

/** The file parts of a multipart request body, by field name, as `upload.ts` accepted them. */
export type UploadedFiles = Readonly<Record<string, Buffer>>;

/** The body of a V2 inference request as `infer-body.ts` read it. */
export interface InferenceBody {
  /** The JSON, or the JSON header of a binary body: what openapi-backend validates. */
  readonly header: unknown;
  /** The bytes after a binary body's JSON header. */
  readonly binary: BinaryPart | undefined;
  /** Gives the body's memory reservation back; called once the answer is computed. */
  readonly release: () => void;
}

/** The request-scoped state, with the module that sets each member. */
export interface AppState {
  /** The request's child logger, carrying its request id (`request-log.ts`). */
  log?: Logger;
  /** The spec's operationId once routed (`api.ts`); unset for the docs and unknown paths. */
  operationId?: string;
  /** The code of the problem the request was answered with (`problem.ts`). */
  problem?: ProblemCode;
  /** The label a classification answered (the `classifyImage` handler), for the request log. */
  prediction?: string;
  /** The model and version a request runs on, once leased (`handlers/model-query.ts`), for the request log. */
  model?: { readonly name: string; readonly version: string };
  /** The file parts of a multipart body, once checked against the spec (`upload.ts`). */
  upload?: UploadedFiles;
  /** The body of a V2 inference request, once read (`infer-body.ts`); released when answered (`api.ts`). */
  inference?: InferenceBody;
}

/** The Koa context of this app. */
export type AppContext = ParameterizedContext<AppState>;

/** A Koa middleware of this app. */
export type AppMiddleware = Middleware<AppState>;
