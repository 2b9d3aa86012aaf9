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

/**
 * Whether `err` is zlib's (gzip, deflate) or brotli's verdict on bytes that are not what the
 * `Content-Encoding` said: `Z_DATA_ERROR` (not that encoding), `Z_BUF_ERROR` (cut short), brotli's
 * `ERR__ERROR_FORMAT_*` / `ERR_PADDING_*`… codes.
 */
function isDecodingError(err: unknown): boolean {
  const { code, errno } = err as { code?: unknown; errno?: unknown };
  return typeof code === 'string' && typeof errno === 'number' && (code.startsWith('Z_') || code.startsWith('ERR_'));
}

/**
 * co-body and raw-body errors → typed errors; anything else is returned as it is. `encoding` is
 * the request's `Content-Encoding` (lower case), named in the answer when the body does not decode.
 */
export function fromBodyError(err: unknown, limit: number, known: boolean, encoding = 'identity'): Error {
  const { status, type, message } = err as { status?: number; type?: string; message?: string };
  if (isDecodingError(err)) {
    return new BadRequest(`The body is not valid ${encoding}, as its Content-Encoding says (${message ?? 'undecodable'})`);
  }
  if (status === 413) return new PayloadTooLarge(limit, tooLarge(limit, known));
  if (status === 415) return new ProblemError('unsupported-media-type', { detail: `Content-Encoding is not supported: ${message ?? ''}` });
  if (type === 'request.size.invalid') return new BadRequest('The body is not as long as its Content-Length');
  if (type === 'request.aborted') return new BadRequest('The client aborted the request before its body was complete');
  if (status === 400) return new BadRequest(`The body is not valid JSON: ${message ?? ''}`);
  return err instanceof Error ? err : new Error(String(err));
}
