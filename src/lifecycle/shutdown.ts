/**
 * Graceful shutdown: from the stop signal on, every response asks its client to close the
 * connection (`src/http/draining.ts`), and the server closes once the requests in progress have
 * finished, or when the grace period is over.
 *
 * ```ts
 * readiness.startDraining();
 * const clean = await closeGracefully(server, 10_000);
 * ```
 */
import type http from 'node:http';

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
