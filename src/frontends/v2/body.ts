/**
 * Reads the body of an Open Inference Protocol inference request, within limits, before
 * openapi-backend validates it:
 *
 * - JSON (`application/json`, or no Content-Type: Triton's Python client sends none), parsed by
 *   koa-body with its size limit;
 * - binary (an `Inference-Header-Content-Length` header, whatever the Content-Type, usually
 *   `application/octet-stream` or none), read whole by raw-body, then split at the end of its JSON header
 *   (`src/oip/binary.ts`); `Inference-Header-Content-Length: 0` is the extension's raw binary
 *   request, one image as the whole body.
 *
 * `Content-Encoding` gzip, deflate and br are inflated, and the limits apply to the inflated body.
 * A declared Content-Length over `MAX_INFER_BODY_BYTES` is refused before anything is read; a body
 * whose size is not known before reading (no Content-Length, or encoded) may hold at most what an
 * upload may. Before reading, the body reserves its estimated memory in the shared budget
 * (`src/oip/body-memory.ts`): {@link JSON_MEMORY_FACTOR} or {@link BINARY_MEMORY_FACTOR} bytes per byte.
 */
import { koaBody } from 'koa-body';
import type { Operation } from 'openapi-backend';
import inflate from 'inflation';
import getRawBody from 'raw-body';
import { BadRequest, BinaryDataInvalid, PayloadTooLarge, ProblemError, UnsupportedMediaType, ValidationFailed } from '../../errors.js';
import { fromBodyError, tooLarge } from '../../http/body-errors.js';
import { splitHeader } from '../../oip/binary.js';
import { rawRequestHeader } from '../../oip/request.js';
import type { BodyMemory } from '../../oip/body-memory.js';
import { inviteBody } from '../../http/expect-continue.js';
import type { AppContext, ReadBody } from '../../http/context.js';
import type { BodyReader } from '../../http/api.js';
import type { BinaryPart } from '../../oip/request.js';
import { ENVELOPE_BYTES } from '../../http/upload.js';

/**
 * Memory per byte of a JSON body, measured by the peak of the parse: the raw bytes, the text, the
 * parsed base64 strings, then the decoded images (about 3.75 for a body of images).
 */
const JSON_MEMORY_FACTOR = 4;
/** Memory per byte of a binary body: raw-body's chunks and their concatenation; the images are views of it. */
const BINARY_MEMORY_FACTOR = 2;

/** Limits of V2 inference bodies, from the configuration. */
export interface InferBodyLimits {
  /** Largest body with a declared Content-Length (`MAX_INFER_BODY_BYTES`). */
  readonly maxInferBodyBytes: number;
  /** An upload's limit (`MAX_UPLOAD_BYTES`): with the multipart envelope, the largest body of unknown size. */
  readonly maxUploadBytes: number;
}

/** A V2 inference body as read: what is validated against the spec, and the binary part after it. */
export interface InferenceBody extends ReadBody {
  /** The JSON, or the JSON header of a binary body: what openapi-backend validates. */
  readonly validated: unknown;
  /** The bytes after a binary body's JSON header. */
  readonly payload: BinaryPart | undefined;
}

/** Reads the inference body of a request. */
export type InferenceBodyReader = (ctx: AppContext) => Promise<InferenceBody>;

/** Whether `operation` takes a V2 inference body: it declares the binary extension's header. */
function takesInferenceBody(operation: Operation): boolean {
  return (operation.parameters ?? []).some((p) => 'in' in p && p.in === 'header' && p.name.toLowerCase() === HEADER_LENGTH);
}

const HEADER_LENGTH = 'inference-header-content-length';
const ACCEPTED = ['application/json', 'application/octet-stream'];
const ENCODINGS = ['identity', 'gzip', 'deflate', 'br'];

/** Creates the reader; `memory` is the budget every V2 body reserves from. */
export function createInferenceBodyReader(limits: InferBodyLimits, memory: BodyMemory): InferenceBodyReader {
  const unknownSizeLimit = Math.min(limits.maxInferBodyBytes, limits.maxUploadBytes + ENVELOPE_BYTES);
  // One parser per limit: koa-body validates its options once, at creation.
  const jsonParser = (limit: number): ReturnType<typeof koaBody> =>
    koaBody({ json: true, jsonLimit: limit, jsonStrict: true, urlencoded: false, text: false, multipart: false, patchKoa: true });
  const parsers = new Map([limits.maxInferBodyBytes, unknownSizeLimit].map((limit) => [limit, jsonParser(limit)]));

  return async function readInferenceBody(ctx) {
    const headerLengthText = ctx.get(HEADER_LENGTH);
    const binary = headerLengthText !== '';
    if (binary && !/^\d{1,15}$/.test(headerLengthText)) {
      throw new ValidationFailed(`Inference-Header-Content-Length must be a length in bytes, not "${headerLengthText.slice(0, 40)}"`, [
        { pointer: `/header/${HEADER_LENGTH}`, message: 'must be a non-negative integer' },
      ]);
    }
    const media = ctx.request.type;
    if (!binary && media === 'application/octet-stream') {
      throw new BinaryDataInvalid('An application/octet-stream body needs the Inference-Header-Content-Length header (0 for one image alone)');
    }
    // With the extension's header, the header says how the body is framed, whatever its type
    // (Triton's clients send none; curl sends application/x-www-form-urlencoded).
    if (!binary && media !== '' && media !== 'application/json') throw new UnsupportedMediaType(media, ACCEPTED);
    const encoding = (ctx.get('content-encoding') || 'identity').toLowerCase();
    if (!ENCODINGS.includes(encoding)) {
      throw new ProblemError('unsupported-media-type', { detail: `Content-Encoding ${encoding} is not supported; use gzip, deflate, br or none` });
    }

    const declared = ctx.get('content-length') === '' ? undefined : Number(ctx.get('content-length'));
    const known = declared !== undefined && encoding === 'identity';
    const limit = known ? limits.maxInferBodyBytes : unknownSizeLimit;
    if (known && declared > limit) throw new PayloadTooLarge(limit, tooLarge(limit, true));
    const release = memory.reserve((known ? declared : limit) * (binary ? BINARY_MEMORY_FACTOR : JSON_MEMORY_FACTOR));
    try {
      // The token, the declared size and the memory were checked: a client that sent
      // `Expect: 100-continue` (curl does for bodies over 1 MiB) may send the body now.
      inviteBody(ctx.req, ctx.res);
      if (!binary) {
        // Triton's Python client sends JSON without a Content-Type; koa-body parses only what says it is JSON.
        if (media === '') ctx.request.headers['content-type'] = 'application/json';
        try {
          await parsers.get(limit)!(ctx, async () => {});
        } catch (err) {
          throw fromBodyError(err, limit, known);
        }
        return { validated: (ctx.request as { body?: unknown }).body, payload: undefined, release };
      }
      let body: Buffer;
      try {
        body = await getRawBody(inflate(ctx.req), { limit, ...(known ? { length: declared } : {}) });
      } catch (err) {
        throw fromBodyError(err, limit, known);
      }
      const headerLength = Number(headerLengthText);
      if (headerLength === 0) return { validated: rawRequestHeader(body.length), payload: { tail: body, raw: true }, release };
      const { header, tail } = splitHeader(body, headerLength);
      let parsed: unknown;
      try {
        parsed = JSON.parse(header.toString('utf8'));
      } catch (err) {
        throw new BadRequest(`The JSON header (the first ${headerLength} bytes) is not valid JSON: ${(err as Error).message}`);
      }
      return { validated: parsed, payload: { tail, raw: false }, release };
    } catch (err) {
      release();
      throw err;
    }
  };
}

/** The reader as the HTTP app takes it: for the operations that declare `Inference-Header-Content-Length`. */
export function inferenceBodyReader(read: InferenceBodyReader): BodyReader {
  return { reads: takesInferenceBody, read };
}
