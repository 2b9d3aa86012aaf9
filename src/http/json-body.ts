/**
 * Reads a small `application/json` request body (the management API's) with koa-body, within a
 * byte limit. A body over the limit is refused as soon as it is known to be (from
 * `Content-Length`, or while reading), and one that is not JSON with a 400.
 */
import { koaBody } from 'koa-body';
import { PayloadTooLarge } from '../errors.js';
import { fromBodyError } from './body-errors.js';
import type { AppContext } from './context.js';

/**
 * Largest JSON body accepted by default, in bytes: the management API's and the feedback's bodies
 * are a few dozen. An operation whose bodies are larger says so in the spec (`x-max-bytes` on its
 * `requestBody`: Label Studio's tasks and label configs).
 */
const MAX_JSON_BODY_BYTES = 16 * 1024;

/** One parser per limit (a handful: the spec's limits). */
const parsers = new Map<number, ReturnType<typeof koaBody>>();
const parserFor = (limit: number): ReturnType<typeof koaBody> => {
  let parser = parsers.get(limit);
  if (!parser) {
    parser = koaBody({ json: true, jsonLimit: limit, jsonStrict: true, urlencoded: false, text: false, multipart: false, patchKoa: true });
    parsers.set(limit, parser);
  }
  return parser;
};

/** Reads and parses the body (the caller checked that it says it is JSON); `undefined` when it is empty. */
export async function readJsonBody(ctx: AppContext, maxBytes: number = MAX_JSON_BODY_BYTES): Promise<unknown> {
  const declared = ctx.get('content-length');
  if (Number(declared || 0) > maxBytes) throw new PayloadTooLarge(maxBytes);
  try {
    await parserFor(maxBytes)(ctx, async () => {});
  } catch (err) {
    throw fromBodyError(err, maxBytes, declared !== '', (ctx.get('content-encoding') || 'identity').toLowerCase());
  }
  const body = (ctx.request as { body?: unknown }).body;
  // co-body answers an empty body as {} in strict mode: no body is no body.
  return body !== null && typeof body === 'object' && Object.keys(body).length === 0 && Number(declared || 0) === 0 ? undefined : body;
}
