/**
 * Headers every response carries, whatever produced it.
 *
 * `X-Content-Type-Options: nosniff`: a browser runs a script or applies a style only when it was
 * served as one, and never guesses HTML out of a JSON or problem body. The docs pages add their
 * own Content-Security-Policy (`src/http/docs.ts`).
 */
import type { Middleware } from 'koa';

/** The middleware; place it first, so that errors and refusals carry the headers too. */
export function securityHeaders(): Middleware {
  return async function headers(ctx, next) {
    ctx.set('X-Content-Type-Options', 'nosniff');
    await next();
  };
}
