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
    const decision = budget.admit(socket.remoteAddress);
    if (!decision.admitted) {
      const problem = new TooManyConnections(decision.scope, options.retryAfterSeconds);
      onRefused(problem, decision.key);
      // Answered before the request is read: RFC 9110 §15.6.4 lets a 503 close the connection,
      // and the client reads it as the answer to the request it sends meanwhile.
      closer.close(socket, plainProblems.raw(problem));
      return;
    }
    slots.set(socket, decision.release);
    socket.once('close', decision.release);
    // Node ends a `Connection: close` response with `socket.destroySoon()` (end, then destroy
    // once written), which resets a client still sending; this instance linger-closes instead.
    (socket as Socket & { destroySoon: () => void }).destroySoon = () => close(socket);
    for (const listener of nodeListeners) listener.call(server, socket);
  });

  return { budget, close, isClosing: (socket) => closer.isClosing(socket) };
}
