/**
 * While the service drains (after SIGTERM), every response asks its client to close the
 * connection, so that keep-alive connections end and the server can close
 * (`src/lifecycle/shutdown.ts`).
 */
import type { Readiness } from '../lifecycle/readiness.js';
import type { AppMiddleware } from './context.js';

/**
 * While draining, asks each client to close its connection after the response
 * (`Connection: close`). RFC 9112 §9.6: "A server that sends a "close" connection option MUST
 * initiate closure of the connection [...] after it sends the response containing "close"."
 */
export function closeConnectionsWhenDraining(readiness: Readiness): AppMiddleware {
  return async function closeWhenDraining(ctx, next) {
    try {
      await next();
    } finally {
      if (readiness.state === 'draining') ctx.set('Connection', 'close');
    }
  };
}
