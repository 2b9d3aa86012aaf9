/**
 * The server's connection policy, between accepting a socket and Node's HTTP parser: each new
 * connection asks the {@link ConnectionBudget} for a slot; a refused one is answered at once with
 * `503 too-many-connections` and `Retry-After` (never a bare reset), and every connection the
 * server closes is closed with a linger (`lingering-close.ts`).
 *
 * ```ts
 * const guard = guardConnections(server, { maxConnections: 64, maxPerAddress: 32, reserve: 8, retryAfterSeconds: 1 }, onRefused);
 * guard.close(socket, rawAnswer);
 * ```
 *
 * Node's own `server.maxConnections` destroys the sockets beyond the limit as they are accepted:
 * the client sees a reset, not an answer it could act on.
 *
 * An address at its cap that holds an idle keep-alive connection (one that has been answered and
 * has no request in progress) gets its new connection anyway: the connection idle the longest is
 * closed for it, as Node would close it after `keepAliveTimeout`. Clients that open a connection
 * per request and keep them all (Bruno's CLI, some test runners) are served, while connections
 * that never finished a request (slow clients) still count against the cap.
 */
import type http from 'node:http';
import type { Socket } from 'node:net';
import { TooManyConnections } from '../errors.js';
import { createConnectionBudget, type ConnectionBudget, type ConnectionBudgetOptions } from './connection-budget.js';
import { createLingeringCloser } from './lingering-close.js';
import { createProblemRenderer } from './problem.js';

/** Sockets that may linger at once, per slot of the budget. */
const LINGERING_PER_SLOT = 4;

/** A refusal is answered before any request is read: no path, no front-end's dialect. */
const plainProblems = createProblemRenderer();

/** The budget's limits and the `Retry-After` of a refusal. */
export interface ConnectionGuardOptions extends ConnectionBudgetOptions {
  readonly retryAfterSeconds: number;
}

/** Called for each refused connection, with the address as the budget counts it. */
export type OnConnectionRefused = (problem: TooManyConnections, key: string) => void;

/** The policy as the server uses it. */
export interface ConnectionGuard {
  readonly budget: ConnectionBudget;
  /**
   * Gives `socket`'s slot back, writes `data` (a raw answer) if given, and closes it with a
   * linger. Node's HTTP server closes a `Connection: close` response's socket through it too.
   */
  close(socket: Socket, data?: string): void;
  /** Whether `socket` is closing (a request arriving on it is not served). */
  isClosing(socket: Socket): boolean;
  /**
   * Counts `req` as in progress on its connection until `res` closes: a connection with no
   * request in progress, answered at least once, is idle and may be closed for a newcomer from
   * its address. The server calls it for every request (`request` and `checkContinue`).
   */
  track(req: http.IncomingMessage, res: http.ServerResponse): void;
}

/**
 * Puts the policy in front of `server`'s connection handling. Call it once, right after the
 * server is created (it takes over the `connection` listeners present then: Node's own).
 */
export function guardConnections(
  server: http.Server,
  options: ConnectionGuardOptions,
  onRefused: OnConnectionRefused = () => {},
): ConnectionGuard {
  const budget = createConnectionBudget(options);
  /** The admitted connections of each address, and when each became idle (`undefined`: busy or never answered). */
  const byAddress = new Map<string, Map<Socket, number | undefined>>();
  /** Each admitted connection's entry in `byAddress`, while it holds its slot. */
  const entryOf = new WeakMap<Socket, Map<Socket, number | undefined>>();
  /** Requests in progress per connection (HTTP/1.1 may pipeline). */
  const inProgress = new WeakMap<Socket, number>();
  // Refusals linger too, a flood of them within a bound on file descriptors: beyond it they are
  // answered and destroyed at once (the client may then see a reset after the answer).
  const closer = createLingeringCloser(LINGERING_PER_SLOT * options.maxConnections);
  const slots = new WeakMap<Socket, () => void>();

  const close = (socket: Socket, data?: string): void => {
    // A closing connection sends no further request: its slot is free for someone else.
    slots.get(socket)?.();
    closer.close(socket, data);
  };

  // Node's HTTP server listens to `connection` to attach its parser; it runs only for admitted sockets.
  const nodeListeners = server.listeners('connection') as ((socket: Socket) => void)[];
  server.removeAllListeners('connection');
  server.on('connection', (socket: Socket) => {
    let decision = budget.admit(socket.remoteAddress);
    if (!decision.admitted && decision.scope === 'address') {
      const idle = longestIdle(byAddress.get(decision.key));
      if (idle) {
        close(idle);
        decision = budget.admit(socket.remoteAddress);
      }
    }
    if (!decision.admitted) {
      const problem = new TooManyConnections(decision.scope, options.retryAfterSeconds);
      onRefused(problem, decision.key);
      // Answered before the request is read: RFC 9110 §15.6.4 lets a 503 close the connection,
      // and the client reads it as the answer to the request it sends meanwhile.
      closer.close(socket, plainProblems.raw(problem));
      return;
    }
    const { key, release } = decision;
    const mine = byAddress.get(key) ?? new Map<Socket, number | undefined>();
    byAddress.set(key, mine.set(socket, undefined));
    entryOf.set(socket, mine);
    const forget = (): void => {
      release();
      entryOf.delete(socket);
      mine.delete(socket);
      if (mine.size === 0 && byAddress.get(key) === mine) byAddress.delete(key);
    };
    slots.set(socket, forget);
    socket.once('close', forget);
    // Node ends a `Connection: close` response with `socket.destroySoon()` (end, then destroy
    // once written), which resets a client still sending; this instance linger-closes instead.
    (socket as Socket & { destroySoon: () => void }).destroySoon = () => close(socket);
    for (const listener of nodeListeners) listener.call(server, socket);
  });

  /** Counts `req` in progress on its connection until `res` closes (the connection then idles). */
  const track = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const socket = req.socket;
    inProgress.set(socket, (inProgress.get(socket) ?? 0) + 1);
    // A connection that gave its slot back (closing, or closed) is in no address's list any more.
    entryOf.get(socket)?.set(socket, undefined);
    res.once('close', () => {
      const left = (inProgress.get(socket) ?? 1) - 1;
      inProgress.set(socket, left);
      if (left === 0) entryOf.get(socket)?.set(socket, performance.now());
    });
  };

  /** The connection of `connections` idle the longest and not closing, if any. */
  const longestIdle = (connections: Map<Socket, number | undefined> | undefined): Socket | undefined => {
    let found: Socket | undefined;
    let since = Infinity;
    for (const [socket, idleSince] of connections ?? []) {
      if (idleSince !== undefined && idleSince < since && !closer.isClosing(socket)) {
        found = socket;
        since = idleSince;
      }
    }
    return found;
  };

  return { budget, close, isClosing: (socket) => closer.isClosing(socket), track };
}
