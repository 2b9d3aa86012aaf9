/**
 * Work that stops when its client hangs up: a request waiting for an admission slot gives the
 * slot up, an explanation stops between batches.
 */
import type { AppContext } from './context.js';

/**
 * Runs `work` with a signal that aborts if the client closes the connection before the answer
 * is written; the listener is removed when `work` settles.
 */
export async function whileConnected<T>(ctx: AppContext, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const gone = new AbortController();
  const onClose = (): void => {
    if (!ctx.res.writableFinished) gone.abort(new Error('client closed the connection'));
  };
  ctx.res.once('close', onClose);
  try {
    return await work(gone.signal);
  } finally {
    ctx.res.off('close', onClose);
  }
}
