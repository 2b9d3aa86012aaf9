/**
 * Reads a small `application/json` request body (the management API's), within a byte limit.
 * A body over the limit is refused as soon as it is known to be (from `Content-Length`, or
 * while reading), and one that is not JSON with a 400.
 */
import { BadRequest, PayloadTooLarge } from '../errors.js';
import type { AppContext } from './state.js';

/** Largest JSON body accepted, in bytes: the management API's bodies are a few dozen. */
const MAX_JSON_BODY_BYTES = 16 * 1024;

/** Reads and parses the body; `undefined` when it is empty. */
export async function readJsonBody(ctx: AppContext, maxBytes = MAX_JSON_BODY_BYTES): Promise<unknown> {
  if (Number(ctx.get('content-length') || 0) > maxBytes) throw new PayloadTooLarge(maxBytes);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw new PayloadTooLarge(maxBytes);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new BadRequest(`The body is not JSON: ${(err as Error).message}`);
  }
}
