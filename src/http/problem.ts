/**
 * The one place where errors become RFC 9457 `application/problem+json` responses.
 *
 * A Koa middleware at the top of the stack catches everything thrown below it; openapi-backend's
 * failure handlers throw the typed errors so that they arrive here too. Unknown errors become a
 * generic 500: logged in full, never shown.
 */
import type { Context, Middleware } from 'koa';
import { InternalError, PayloadTooLarge, ProblemError } from '../errors.js';
import type { Logger } from '../log.js';

/** The problem body of an error, as the spec's `Problem` schema describes it. */
export function problemBody(err: ProblemError, instance: string): Record<string, unknown> {
  return {
    type: err.type,
    title: err.title,
    status: err.status,
    ...(err.detail === undefined ? {} : { detail: err.detail }),
    instance,
    code: err.code,
    ...err.extensions,
  };
}

/** Koa's own errors (thrown by `ctx.throw` or by body readers) with a 4xx status. */
function fromHttpError(err: unknown): ProblemError | undefined {
  const status = (err as { status?: unknown }).status;
  if (status === 413) return new PayloadTooLarge(Number((err as { limit?: unknown }).limit) || 0);
  return undefined;
}

/** Writes `err` to the response as problem+json. */
export function renderProblem(ctx: Context, err: ProblemError): void {
  ctx.status = err.status;
  for (const [name, value] of Object.entries(err.headers)) ctx.set(name, value);
  ctx.type = 'application/problem+json';
  ctx.body = problemBody(err, ctx.path);
}

/** The error-rendering middleware; `log` receives unexpected errors. */
export function problemMiddleware(log: Logger): Middleware {
  return async function problems(ctx, next) {
    try {
      await next();
    } catch (thrown) {
      let err = thrown instanceof ProblemError ? thrown : fromHttpError(thrown);
      if (!err) {
        (ctx.state.log as Logger | undefined ?? log).error({ err: thrown }, 'unexpected error');
        err = new InternalError(thrown);
      }
      renderProblem(ctx, err);
      // The rest of a refused body is not read: close the connection instead of draining it.
      if (!ctx.req.complete) ctx.set('Connection', 'close');
    }
  };
}
