/**
 * The `http.Server` around the app, with the connection-level limits (deadlines, body rate,
 * connection budget), and its graceful close.
 * It does not listen: only `src/main.ts` does (tests listen on port 0).
 *
 * ```ts
 * const server = createServer(app, config.server);
 * server.listen(8080);
 * ```
 *
 * Its graceful close is part of the process's life cycle: `src/lifecycle/shutdown.ts`.
 */
import http from 'node:http';
import type { Socket } from 'node:net';
import { BadRequest, HeadersTooLarge, RequestTimeout, type ProblemError } from '../errors.js';
import type { HttpApp } from './app.js';
import { watchBodyRates } from './body-rate.js';
import { guardConnections, type OnConnectionRefused } from './connection-guard.js';
import { answeredByServer } from './problem.js';

/** Connection-level limits, from the configuration (same names). */
export interface ServerLimits {
  /** Whole request (headers and body) deadline, in milliseconds. */
  readonly requestTimeoutMs: number;
  /** Request headers deadline, in milliseconds; at most `requestTimeoutMs`. */
  readonly headersTimeoutMs: number;
  /** Idle keep-alive connection lifetime, in milliseconds. */
  readonly keepAliveTimeoutMs: number;
  /** Client connections open at once; more are answered 503 too-many-connections. */
  readonly maxConnections: number;
  /** Connections one client address (IPv6: its /64) may hold at once. */
  readonly maxConnectionsPerAddress: number;
  /** Of `maxConnections`, the slots kept for addresses holding few connections. */
  readonly connectionReserve: number;
  /** Average rate a request body must keep after `bodyRateGraceMs`, in bytes per second. */
  readonly minBodyRateBytesPerSecond: number;
  /** Time a body may take before `minBodyRateBytesPerSecond` applies, in milliseconds. */
  readonly bodyRateGraceMs: number;
  /** `Retry-After` of a `too-many-connections` answer, in seconds. */
  readonly overloadRetryAfterSeconds: number;
}


/** What the server reports besides the app's own request log. */
export interface ServerHooks {
  /** A request refused before it reached the app (408 in the headers, 431, unparsable). */
  readonly onConnectionProblem?: (problem: ProblemError) => void;
  /** A connection refused by the connection budget, by the address it was counted under. */
  readonly onConnectionRefused?: OnConnectionRefused;
}

/**
 * How often Node checks the request and headers deadlines, in milliseconds. Node's default
 * (30 s) would let a slow client hold its connection up to 30 s past the deadline.
 */
const DEADLINE_CHECK_INTERVAL_MS = 1_000;

/**
 * The problem for a connection-level failure, or `undefined` when nothing should be written.
 * Node reports both deadlines as ERR_HTTP_REQUEST_TIMEOUT: the headers' one fired when no
 * request of the connection had reached the app yet.
 */
function connectionProblem(err: NodeJS.ErrnoException, limits: ServerLimits, inRequest: boolean): ProblemError | undefined {
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    return new RequestTimeout(inRequest
      ? { kind: 'request', timeoutMs: limits.requestTimeoutMs }
      : { kind: 'headers', timeoutMs: limits.headersTimeoutMs });
  }
  if (err.code === 'HPE_HEADER_OVERFLOW') return new HeadersTooLarge();
  if (err.code?.startsWith('HPE_')) return new BadRequest('The request is not valid HTTP/1.1');
  // ECONNRESET and the like: the client is gone.
  return undefined;
}

/**
 * Creates the server for `app` with `limits`. A client that exceeds a deadline (headers,
 * whole request, or the body's minimum rate), sends headers over Node's `maxHeaderSize` (16 KiB)
 * or unparsable HTTP gets a problem+json answer (408, 431, 400) and its connection is closed.
 * Those that never reached the app are counted in the app's metrics here and passed to
 * `hooks.onConnectionProblem` (to log them); the app's request log and metrics record the
 * others. Connections beyond the connection budget are answered 503 too-many-connections,
 * counted, and reported to `hooks.onConnectionRefused`.
 */
export function createServer(app: HttpApp, limits: ServerLimits, hooks: ServerHooks = {}): http.Server {
  const server = http.createServer({
    requestTimeout: limits.requestTimeoutMs,
    headersTimeout: limits.headersTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    connectionsCheckingInterval: Math.min(DEADLINE_CHECK_INTERVAL_MS, limits.headersTimeoutMs),
  });
  const guard = guardConnections(
    server,
    {
      maxConnections: limits.maxConnections,
      maxPerAddress: limits.maxConnectionsPerAddress,
      reserve: limits.connectionReserve,
      retryAfterSeconds: limits.overloadRetryAfterSeconds,
    },
    (problem, key) => {
      app.metrics.countRejection(problem.code);
      hooks.onConnectionRefused?.(problem, key);
    },
  );
  /** The response of the request each connection is serving, while it is being served. */
  const serving = new WeakMap<Socket, http.ServerResponse>();

  /** Answers `problem` on `socket` if no answer has started, then closes it. */
  const answerAndClose = (socket: Socket, problem: ProblemError, response: http.ServerResponse | undefined): void => {
    // Only the first failure counts: closing the connection makes the parser fail once more.
    if (response) {
      // The app's own outcome for this request ("unexpected end of form") is replaced by this one.
      if (!answeredByServer.has(response)) answeredByServer.set(response, problem);
    } else {
      app.metrics.countRejection(problem.code);
      hooks.onConnectionProblem?.(problem);
    }
    if (socket.writable && !response?.headersSent) guard.close(socket, app.problems.raw(problem, response?.req.url));
    else socket.destroy();
  };

  const rates = watchBodyRates(
    { minBytesPerSecond: limits.minBodyRateBytesPerSecond, graceMs: limits.bodyRateGraceMs },
    (req, res, problem) => answerAndClose(req.socket, problem, res),
  );
  server.once('close', () => rates.stop());

  const callback = app.koa.callback();
  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    // A request pipelined behind one whose connection is closing is not served.
    if (guard.isClosing(req.socket)) {
      req.socket.destroy();
      return;
    }
    serving.set(req.socket, res);
    guard.track(req, res);
    res.once('finish', () => {
      if (serving.get(req.socket) === res) serving.delete(req.socket);
    });
    rates.watch(req, res);
    void callback(req, res);
  };
  server.on('request', onRequest);
  // With a listener here, Node no longer answers "100 Continue" by itself: the app invites the
  // body once the token and the declared size were checked (src/http/expect-continue.ts).
  server.on('checkContinue', onRequest);

  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    // A connection the server is closing already had its answer: a client that hangs up in the
    // middle of a body it was still sending is no new refusal.
    if (guard.isClosing(socket)) {
      socket.destroy();
      return;
    }
    const response = serving.get(socket);
    const problem = connectionProblem(err, limits, response !== undefined);
    if (problem) answerAndClose(socket, problem, response);
    else socket.destroy();
  });
  return server;
}
