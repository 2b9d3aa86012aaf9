/**
 * The one logger: pino, JSON lines on stdout. Request handlers use a child logger carrying the
 * request id (`ctx.state.log`).
 */
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
