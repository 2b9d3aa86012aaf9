/**
 * Graceful shutdown: from the stop signal on, every response asks its client to close the
 * connection, and the server closes once the requests in progress have finished, or when the
 * grace period is over.
 *
 * ```ts
 * koa.use(closeConnectionsWhenDraining(readiness));
 * readiness.startDraining();
 * const clean = await closeGracefully(server, 10_000);
 * ```
 */
import type http from 'node:http';
import type { AppMiddleware } from '../http/context.js';
import type { Readiness } from './readiness.js';

/**
 * While draining, asks each client to close its connection after the response
 * (`Connection: close`), so that keep-alive connections end and the server can close.
 * RFC 9112 §9.6: "A server that sends a "close" connection option MUST initiate closure of the
 * connection [...] after it sends the response containing "close"."
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

/**
 * Stops accepting connections, lets the requests in progress finish, and resolves once every
 * connection is closed: `true` if that happened within `graceMs`, `false` if the remaining
 * connections had to be cut.
 *
 * Idle keep-alive connections are closed at once; busy ones close after their response (the
 * app answers `Connection: close` while draining).
 */
export function closeGracefully(server: http.Server, graceMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    let clean = true;
    const timer = setTimeout(() => {
      clean = false;
      server.closeAllConnections();
    }, graceMs);
    server.close(() => {
      clearTimeout(timer);
      resolve(clean);
    });
    server.closeIdleConnections();
  });
}
