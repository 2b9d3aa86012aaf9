/**
 * The one place where errors become RFC 9457 `application/problem+json` responses.
 *
 * Under `/v2` (the Open Inference Protocol), whose clients read the message from the protocol's
 * `{"error": "<message>"}`, the problem carries `error` beside its RFC 9457 members and is served
 * as `application/json`, the media type of the protocol's error objects; a client that asks for
 * `application/problem+json` in `Accept` gets that media type instead, with the same body.
 *
 * A Koa middleware at the top of the stack catches everything thrown below it; openapi-backend's
 * failure handlers throw the typed errors so that they arrive here too. Unknown errors become a
 * generic 500: logged in full, never shown.
 */
import { STATUS_CODES, type ServerResponse } from 'node:http';
import { InternalError, PayloadTooLarge, ProblemError } from '../errors.js';
import type { Logger } from '../log.js';
import type { AppContext, AppMiddleware } from './context.js';

/** The problem body of an error, as the spec's `Problem` schema describes it. */
export function problemBody(err: ProblemError, instance?: string): Record<string, unknown> {
  return {
    type: err.type,
    title: err.title,
    status: err.status,
    ...(err.detail === undefined ? {} : { detail: err.detail }),
    ...(instance === undefined ? {} : { instance }),
    code: err.code,
    ...err.extensions,
  };
}

/** Whether `path` is one of the Open Inference Protocol's (`/v2`, `/v2/...`). */
function isInferenceProtocolPath(path: string): boolean {
  return path === '/v2' || path.startsWith('/v2/') || path.startsWith('/v2?');
}

/** The body of `err` on `path`: the problem, with the protocol's `error` member under `/v2`. */
function bodyFor(err: ProblemError, path: string | undefined, instance?: string): Record<string, unknown> {
  const problem = problemBody(err, instance);
  return path !== undefined && isInferenceProtocolPath(path) ? { error: err.detail ?? err.title, ...problem } : problem;
}

/** Koa's own errors (thrown by `ctx.throw` or by body readers) with a 4xx status. */
function fromHttpError(err: unknown): ProblemError | undefined {
  const status = (err as { status?: unknown }).status;
  if (status === 413) return new PayloadTooLarge(Number((err as { limit?: unknown }).limit) || 0);
  return undefined;
}

/**
 * A whole HTTP/1.1 response carrying `err`, for the connection-level failures that Node detects
 * before any request object exists (header overflow, request timeout, unparsable request). The
 * connection is closed after it: the rest of the request cannot be framed. `path`, when the
 * request line was read, gives the answer the protocol's shape under `/v2`.
 */
export function rawProblemResponse(err: ProblemError, path?: string): string {
  const body = JSON.stringify(bodyFor(err, path));
  const protocol = path !== undefined && isInferenceProtocolPath(path);
  const headers = [
    `HTTP/1.1 ${err.status} ${STATUS_CODES[err.status] ?? err.title}`,
    `Content-Type: ${protocol ? 'application/json' : 'application/problem+json'}`,
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Connection: close',
    'X-Content-Type-Options: nosniff',
    ...Object.entries(err.headers).map(([name, value]) => `${name}: ${value}`),
  ];
  return `${headers.join('\r\n')}\r\n\r\n${body}`;
}

/**
 * Responses whose connection the server already answered and closed (a request timeout in the
 * middle of the body): the app's own outcome for them ("unexpected end of form") is replaced by
 * the problem the client actually received, so that the log and the metrics tell the truth.
 */
export const answeredByServer = new WeakMap<ServerResponse, ProblemError>();

/** Writes `err` to the response as problem+json. */
function renderProblem(ctx: AppContext, err: ProblemError): void {
  // Read by the request log and the request metrics.
  ctx.state.problem = err.code;
  ctx.status = err.status;
  for (const [name, value] of Object.entries(err.headers)) ctx.set(name, value);
  const protocol = isInferenceProtocolPath(ctx.path);
  ctx.type = protocol && ctx.accepts('application/json', 'application/problem+json') !== 'application/problem+json'
    ? 'application/json'
    : 'application/problem+json';
  ctx.body = bodyFor(err, ctx.path, ctx.path);
}

/**
 * The error-rendering middleware; `log` receives unexpected errors. A refused request whose body
 * has not fully arrived gets `Connection: close`: its connection is closed after the answer
 * (with a short linger, `src/http/lingering-close.ts`) instead of being drained, so that a client
 * sending slowly, or without end, cannot keep it.
 */
export function problemMiddleware(log: Logger): AppMiddleware {
  return async function problems(ctx, next) {
    try {
      await next();
    } catch (thrown) {
      let err = answeredByServer.get(ctx.res) ?? (thrown instanceof ProblemError ? thrown : fromHttpError(thrown));
      if (!err) {
        (ctx.state.log ?? log).error({ err: thrown }, 'unexpected error');
        err = new InternalError(thrown);
      }
      renderProblem(ctx, err);
      if (!ctx.req.complete) ctx.set('Connection', 'close');
    }
  };
}
