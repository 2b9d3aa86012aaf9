/**
 * Refuses requests that repeat a header that must appear once: `Host` and `Authorization`.
 *
 * Node keeps only the first of repeated `Host` and `Authorization` headers in `req.headers` and
 * drops the others silently, so a proxy that reads the last one and this service would act on
 * different values. RFC 9112 §3.2: "A server MUST respond with a 400 (Bad Request) status code to
 * any HTTP/1.1 request message that lacks a Host header field and to any request message that
 * contains more than one Host header field line". Two `Authorization` headers are equally
 * ambiguous (RFC 9110 §5.3 allows a repeated field only for list-based fields).
 */
import type { Middleware } from 'koa';
import { BadRequest } from '../errors.js';

/** Header names (lower case, as Node gives them) and how the answer writes them. */
const singletons: Readonly<Record<string, string>> = { host: 'Host', authorization: 'Authorization' };

/** The middleware: 400 bad-request for a repeated singleton header, before routing and authentication. */
export function refuseRepeatedHeaders(): Middleware {
  return async function repeatedHeaders(ctx, next) {
    // headersDistinct (from rawHeaders) keeps every occurrence, unlike headers.
    const distinct = ctx.req.headersDistinct;
    for (const [name, display] of Object.entries(singletons)) {
      if ((distinct[name]?.length ?? 0) > 1) throw new BadRequest(`The request has more than one ${display} header`);
    }
    await next();
  };
}
