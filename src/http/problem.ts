/**
 * The one place where errors become RFC 9457 `application/problem+json` responses.
 *
 * A protocol front-end whose clients read errors in another shape declares a
 * {@link ProblemDialect} for its paths: the Open Inference Protocol's clients read the message
 * from `{"error": "<message>"}`, so under `/v2` the problem carries `error` beside its RFC 9457
 * members and is served as `application/json` (`src/frontends/v2/errors.ts`); a client that asks
 * for `application/problem+json` in `Accept` gets that media type instead, with the same body.
 *
 * A Koa middleware at the top of the stack catches everything thrown below it; openapi-backend's
 * failure handlers throw the typed errors so that they arrive here too. Unknown errors become a
 * generic 500: logged in full, never shown.
 */
import { randomUUID } from 'node:crypto';
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

/** How the clients of some paths read errors: a media type, and members beside the problem's. */
export interface ProblemDialect {
  /** Whether a request to `path` (its path, or its request target with the query) speaks the dialect. */
  readonly speaks: (path: string) => boolean;
  /** The media type of its error bodies (a client that asks for `application/problem+json` gets that). */
  readonly mediaType: string;
  /** The members added before the problem's own. */
  readonly members: (err: ProblemError) => Record<string, unknown>;
}

/** Renders problems, in the dialect of the path's front-end where it has one. */
export interface ProblemRenderer {
  /** The error-rendering middleware, at the top of the stack; `log` receives unexpected errors. */
  middleware(log: Logger): AppMiddleware;
  /**
   * A whole HTTP/1.1 response carrying `err`, for the connection-level failures that Node detects
   * before any request object exists (header overflow, request timeout, unparsable request). The
   * connection is closed after it: the rest of the request cannot be framed. `path`, when the
   * request line was read, chooses the dialect. It carries an `X-Request-Id` of its own, as every
   * response does (no request reached the app to log one).
   */
  raw(err: ProblemError, path?: string): string;
}

/** Koa's own errors (thrown by `ctx.throw` or by body readers) with a 4xx status. */
function fromHttpError(err: unknown): ProblemError | undefined {
  const status = (err as { status?: unknown }).status;
  if (status === 413) return new PayloadTooLarge(Number((err as { limit?: unknown }).limit) || 0);
  return undefined;
}

/**
 * Responses whose connection the server already answered and closed (a request timeout in the
 * middle of the body): the app's own outcome for them ("unexpected end of form") is replaced by
 * the problem the client actually received, so that the log and the metrics tell the truth.
 */
export const answeredByServer = new WeakMap<ServerResponse, ProblemError>();

/** Largest unread body a refusal for now lets Node drain, keeping the connection: a batch of uploads' size. */
const DRAIN_MAX_BYTES = 16 * 1024 * 1024;

/** Whether the refusal `err` of `ctx`'s request leaves a body Node may drain (see the middleware). */
function drainable(ctx: AppContext, err: ProblemError): boolean {
  if (err.status !== 429 && err.status !== 503) return false;
  const declared = ctx.get('content-length');
  return /^\d{1,9}$/.test(declared) && Number(declared) <= DRAIN_MAX_BYTES && ctx.get('expect') === '';
}

/** Creates the renderer of `dialects` (none: every error is plain problem+json). */
export function createProblemRenderer(dialects: readonly ProblemDialect[] = []): ProblemRenderer {
  const dialectOf = (path: string | undefined): ProblemDialect | undefined =>
    path === undefined ? undefined : dialects.find((d) => d.speaks(path));
  const bodyFor = (err: ProblemError, dialect: ProblemDialect | undefined, instance?: string): Record<string, unknown> =>
    ({ ...dialect?.members(err), ...problemBody(err, instance) });

  /** Writes `err` to the response. */
  const render = (ctx: AppContext, err: ProblemError): void => {
    // Read by the request log and the request metrics.
    ctx.state.problem = err.code;
    ctx.status = err.status;
    for (const [name, value] of Object.entries(err.headers)) ctx.set(name, value);
    const dialect = dialectOf(ctx.path);
    ctx.type = dialect && ctx.accepts(dialect.mediaType, 'application/problem+json') !== 'application/problem+json'
      ? dialect.mediaType
      : 'application/problem+json';
    ctx.body = bodyFor(err, dialect, ctx.path);
  };

  return {
    /**
     * A refused request whose body has not fully arrived gets `Connection: close`: its connection
     * is closed after the answer (with a short linger, `src/http/lingering-close.ts`) instead of
     * being drained, so that a client sending slowly, or without end, cannot keep it. Except a
     * request refused for now (429, 503: decided from its headers, before its body) that declares
     * a body of at most {@link DRAIN_MAX_BYTES}: Node reads and discards that body (the server's
     * request timeout still bounds it) and the connection stays open, as most clients expect
     * (fetch and Python's requests report a connection error, not the answer, when the
     * connection closes under the body they are still sending).
     */
    middleware(log) {
      return async function problems(ctx, next) {
        try {
          await next();
        } catch (thrown) {
          let err = answeredByServer.get(ctx.res) ?? (thrown instanceof ProblemError ? thrown : fromHttpError(thrown));
          if (!err) {
            (ctx.state.log ?? log).error({ err: thrown }, 'unexpected error');
            err = new InternalError(thrown);
          }
          render(ctx, err);
          if (!ctx.req.complete && !drainable(ctx, err)) ctx.set('Connection', 'close');
        }
      };
    },
    raw(err, path) {
      const dialect = dialectOf(path);
      const body = JSON.stringify(bodyFor(err, dialect));
      const headers = [
        `HTTP/1.1 ${err.status} ${STATUS_CODES[err.status] ?? err.title}`,
        `Content-Type: ${dialect?.mediaType ?? 'application/problem+json'}`,
        `Content-Length: ${Buffer.byteLength(body)}`,
        'Connection: close',
        'X-Content-Type-Options: nosniff',
        `X-Request-Id: ${randomUUID()}`,
        ...Object.entries(err.headers).map(([name, value]) => `${name}: ${value}`),
      ];
      return `${headers.join('\r\n')}\r\n\r\n${body}`;
    },
  };
}
