/**
 * Reads a small `application/json` request body (the management API's) with koa-body, within a
 * byte limit. A body over the limit is refused as soon as it is known to be (from
 * `Content-Length`, or while reading), and one that is not JSON with a 400.
 */
import { koaBody } from 'koa-body';
import { PayloadTooLarge } from '../errors.js';
import { fromBodyError } from './body-errors.js';
import type { AppContext } from './context.js';

/** Largest JSON body accepted, in bytes: the management API's bodies are a few dozen. */
const MAX_JSON_BODY_BYTES = 16 * 1024;

const parseJson = koaBody({
  json: true, jsonLimit: MAX_JSON_BODY_BYTES, jsonStrict: true, urlencoded: false, text: false, multipart: false, patchKoa: true,
});

/** Reads and parses the body (the caller checked that it says it is JSON); `undefined` when it is empty. */
export async function readJsonBody(ctx: AppContext): Promise<unknown> {
  const declared = ctx.get('content-length');
  if (Number(declared || 0) > MAX_JSON_BODY_BYTES) throw new PayloadTooLarge(MAX_JSON_BODY_BYTES);
  try {
    await parseJson(ctx, async () => {});
  } catch (err) {
    throw fromBodyError(err, MAX_JSON_BODY_BYTES, declared !== '', (ctx.get('content-encoding') || 'identity').toLowerCase());
  }
  const body = (ctx.request as { body?: unknown }).body;
  // co-body answers an empty body as {} in strict mode: no body is no body.
  return body !== null && typeof body === 'object' && Object.keys(body).length === 0 && Number(declared || 0) === 0 ? undefined : body;
}
