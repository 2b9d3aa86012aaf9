/**
 * The `http.Server` around the app, with the connection-level limits.
 * It does not listen: only `src/main.ts` does (tests listen on port 0).
 *
 * ```ts
 * const server = createServer(app, { requestTimeoutMs: 30_000, headersTimeoutMs: 10_000, keepAliveTimeoutMs: 5_000 });
 * server.listen(8080);
 * ```
 *
 * Its graceful close is part of the process's life cycle: `src/lifecycle/shutdown.ts`.
 */
import http from 'node:http';
import type { Socket } from 'node:net';
import { BadRequest, HeadersTooLarge, RequestTimeout, type ProblemError } from '../errors.js';
import type { App } from './app.js';
import { answeredByServer, rawProblemResponse } from './problem.js';

/** Connection-level limits, from the configuration. */
export interface ServerLimits {
  /** Whole request (headers and body) deadline, in milliseconds. */
  readonly requestTimeoutMs: number;
  /** Request headers deadline, in milliseconds; at most `requestTimeoutMs`. */
  readonly headersTimeoutMs: number;
  /** Idle keep-alive connection lifetime, in milliseconds. */
  readonly keepAliveTimeoutMs: number;
  /** Client connections open at once; more are closed as soon as they are accepted. Default: no limit. */
  readonly maxConnections?: number;
}

/** The metrics' refusal reason for a connection closed by {@link ServerLimits.maxConnections}. */
const CONNECTION_LIMIT = 'connection-limit';

/**
 * How often Node checks the request and headers deadlines, in milliseconds. Node's default
 * (30 s) would let a slow client hold its connection up to 30 s past the deadline.
 */
const DEADLINE_CHECK_INTERVAL_MS = 1_000;

/** The problem for a connection-level failure, or `undefined` when nothing should be written. */
function connectionProblem(err: NodeJS.ErrnoException, limits: ServerLimits): ProblemError | undefined {
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') return new RequestTimeout(limits.requestTimeoutMs);
  if (err.code === 'HPE_HEADER_OVERFLOW') return new HeadersTooLarge();
  if (err.code?.startsWith('HPE_')) return new BadRequest('The request is not valid HTTP/1.1');
  // ECONNRESET and the like: the client is gone.
  return undefined;
}

/**
 * Creates the server for `app` with `limits`. A client that exceeds a deadline, sends headers
 * over Node's `maxHeaderSize` (16 KiB) or unparsable HTTP gets a problem+json answer (408, 431,
 * 400) and its connection is closed. Those that never reached the app are counted in the app's
 * metrics here and passed to `onConnectionProblem` (to log them); the app's request log and
 * metrics record the others. Connections beyond `maxConnections` are closed unanswered,
 * counted, and reported to `onConnectionDropped`.
 */
export function createServer(
  app: App,
  limits: ServerLimits,
  onConnectionProblem: (problem: ProblemError) => void = () => {},
  onConnectionDropped: () => void = () => {},
): http.Server {
  // Koa's handler settles its own errors (its promise never rejects): nothing to await here.
  const handleRequest = app.koa.callback();
  const server = http.createServer(
    {
      requestTimeout: limits.requestTimeoutMs,
      headersTimeout: limits.headersTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      connectionsCheckingInterval: Math.min(DEADLINE_CHECK_INTERVAL_MS, limits.headersTimeoutMs),
    },
    (req, res) => void handleRequest(req, res),
  );
  if (limits.maxConnections !== undefined) {
    // Uploads are buffered before admission: the limit bounds that memory. Node closes the
    // connections beyond it without reading them (no HTTP answer is possible at that point).
    server.maxConnections = limits.maxConnections;
    server.on('drop', () => {
      app.metrics.countRejection(CONNECTION_LIMIT);
      onConnectionDropped();
    });
  }
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    const problem = connectionProblem(err, limits);
    // As Node's default handler: answer only when no response has started on this connection.
    const response = (socket as Socket & { _httpMessage?: http.ServerResponse })._httpMessage;
    // Only the first failure counts: closing the connection makes the parser fail once more.
    if (problem && response) {
      if (!answeredByServer.has(response)) answeredByServer.set(response, problem);
    } else if (problem) {
      app.metrics.countRejection(problem.code);
      onConnectionProblem(problem);
    }
    if (problem && socket.writable && !response?.headersSent) {
      socket.end(rawProblemResponse(problem));
      // A client that stops reading must not keep the socket: destroy it shortly after.
      setTimeout(() => socket.destroy(), 1_000).unref();
    } else {
      socket.destroy();
    }
  });
  return server;
}
