/**
 * The minimum data rate of request bodies: a body that arrives slower than
 * `MIN_BODY_RATE_BYTES_PER_SECOND` on average, once `BODY_RATE_GRACE_MS` have passed, is cut
 * with 408 request-timeout. The rule is Apache's `mod_reqtimeout` (`body=…,MinRate=…`): the body
 * may take the grace period plus one second per `minBytesPerSecond` bytes received.
 *
 * ```ts
 * const rate = watchBodyRates({ minBytesPerSecond: 8192, graceMs: 5_000 }, (req, res, problem) => …);
 * server.on('request', (req, res) => rate.watch(req, res));
 * ```
 *
 * Why: `REQUEST_TIMEOUT_MS` alone lets a client that sends 1 KB/s hold a connection (and its
 * slot in the connection budget) for the whole request timeout, and come back.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { RequestTimeout } from '../errors.js';
import { bodyInvitedAt, waitsForContinue } from './expect-continue.js';

/** Settings, from the configuration. */
export interface BodyRateOptions {
  /** Average rate a body must keep after `graceMs`, in bytes per second. */
  readonly minBytesPerSecond: number;
  /** Time a body may take before the rate applies, in milliseconds. */
  readonly graceMs: number;
  /** How often bodies are checked, in milliseconds; default 500. */
  readonly checkIntervalMs?: number;
}

/** Called once for a body found too slow; the request is no longer watched. */
export type OnSlowBody = (req: IncomingMessage, res: ServerResponse, problem: RequestTimeout) => void;

/** The bodies being watched. */
export interface BodyRateWatch {
  /** Watches `req`'s body until it has arrived or `res` is finished or closed. */
  watch(req: IncomingMessage, res: ServerResponse): void;
  /** Bodies being watched now. */
  readonly watched: number;
  /** Stops the periodic check. */
  stop(): void;
}

interface Watched {
  readonly res: ServerResponse;
  /** `socket.bytesRead` when the body started (the headers' bytes and a little body included). */
  bytesAtStart: number;
  startedAt: number | undefined;
  checkedAt: number;
}

/** Whether the request announces a body (RFC 9112 §6.3). */
function hasBody(req: IncomingMessage): boolean {
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
}

/** Starts the periodic check; `onSlow` answers and closes. */
export function watchBodyRates(options: BodyRateOptions, onSlow: OnSlowBody): BodyRateWatch {
  const { minBytesPerSecond, graceMs } = options;
  const watched = new Map<IncomingMessage, Watched>();

  const check = (): void => {
    const now = performance.now();
    for (const [req, w] of watched) {
      const sinceCheck = now - w.checkedAt;
      w.checkedAt = now;
      if (req.complete) {
        watched.delete(req);
        continue;
      }
      // A request waiting for "100 Continue" sends nothing until invited (src/http/expect-continue.ts).
      if (w.startedAt === undefined) {
        const invited = bodyInvitedAt(w.res);
        if (invited === undefined) continue;
        w.startedAt = invited;
        w.bytesAtStart = req.socket.bytesRead;
      }
      // While the app does not read the body (the token being verified), Node stops reading the
      // socket once a few KiB wait: that time is the server's, not the client's.
      if (req.readableLength >= req.readableHighWaterMark) {
        w.startedAt += sinceCheck;
        continue;
      }
      const received = req.socket.bytesRead - w.bytesAtStart;
      const allowedMs = graceMs + (received * 1000) / minBytesPerSecond;
      if (now - w.startedAt > allowedMs) {
        watched.delete(req);
        onSlow(req, w.res, new RequestTimeout({ kind: 'body-rate', minBytesPerSecond }));
      }
    }
  };
  const timer = setInterval(check, options.checkIntervalMs ?? 500);
  timer.unref();

  return {
    watch(req, res) {
      if (!hasBody(req) || req.complete) return;
      const forget = (): void => {
        watched.delete(req);
      };
      watched.set(req, {
        res,
        bytesAtStart: req.socket.bytesRead,
        startedAt: waitsForContinue(req, res) ? undefined : performance.now(),
        checkedAt: performance.now(),
      });
      req.once('end', forget);
      req.once('close', forget);
      res.once('finish', forget);
      res.once('close', forget);
    },
    get watched() {
      return watched.size;
    },
    stop() {
      clearInterval(timer);
    },
  };
}
