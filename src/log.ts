/**
 * The one logger: pino, JSON lines on stdout. Request handlers use a child logger carrying the
 * request id (`ctx.state.log`).
 */
import { inspect } from 'node:util';
import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

/** Creates the process logger; `level` comes from the configuration. */
export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: 'cat-dog-other' },
    redact: { paths: ['req.headers.authorization', 'headers.authorization', '*.token'], censor: '[redacted]' },
  });
}

/**
 * Lets one warning through per `intervalMs` and counts the others, for events that come in
 * floods (an issuer outage seen by every request): `limit((held) => log.warn({ held }, '...'))`
 * runs its callback at most once per interval, with how many calls were held back since the last.
 */
export function createWarningLimiter(intervalMs: number, now: () => number = Date.now): (warn: (held: number) => void) => void {
  let lastAt = -Infinity;
  let held = 0;
  return (warn) => {
    if (now() - lastAt < intervalMs) {
      held++;
      return;
    }
    lastAt = now();
    warn(held);
    held = 0;
  };
}

/** One link of a cause chain: an Error's message, an object inspected on one line, or the value as text. */
function describe(e: unknown): string {
  if (e instanceof Error) return e.message;
  return typeof e === 'object' && e !== null ? inspect(e, { breakLength: Infinity }) : String(e);
}

/** An error and its causes on one line (`fetch failed: connect ECONNREFUSED …`), without stack. */
export function errorSummary(error: unknown): string {
  const parts: string[] = [];
  for (let e = error, depth = 0; e !== undefined && e !== null && depth < 4; depth++) {
    parts.push(describe(e));
    e = e instanceof Error ? e.cause : undefined;
  }
  return parts.join(': ');
}
