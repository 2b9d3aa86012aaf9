/**
 * The errors of the body readers (koa-body's co-body, raw-body) as the service's typed errors,
 * so that a body too large, cut short or not JSON is answered as any other problem.
 */
import { BadRequest, PayloadTooLarge, ProblemError } from '../errors.js';

/** The detail of a 413: `known` says whether the size was declared (Content-Length, no encoding). */
export function tooLarge(limit: number, known: boolean): string {
  return known
    ? `The request body is larger than the limit of ${limit} bytes`
    : `A request body without Content-Length (or with a Content-Encoding) may hold at most ${limit} bytes; declare Content-Length for larger ones`;
}

/** co-body and raw-body errors → typed errors; anything else is returned as it is. */
export function fromBodyError(err: unknown, limit: number, known: boolean): Error {
  const { status, type, message } = err as { status?: number; type?: string; message?: string };
  if (status === 413) return new PayloadTooLarge(limit, tooLarge(limit, known));
  if (status === 415) return new ProblemError('unsupported-media-type', { detail: `Content-Encoding is not supported: ${message ?? ''}` });
  if (type === 'request.size.invalid') return new BadRequest('The body is not as long as its Content-Length');
  if (type === 'request.aborted') return new BadRequest('The client aborted the request before its body was complete');
  if (status === 400) return new BadRequest(`The body is not valid JSON: ${message ?? ''}`);
  return err instanceof Error ? err : new Error(String(err));
}
