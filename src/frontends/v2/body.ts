/**
 * Reads the body of an Open Inference Protocol inference request, within limits, before
 * openapi-backend validates it:
 *
 * - JSON (`application/json`, or no Content-Type: Triton's Python client sends none), read whole
 *   by raw-body within its size limit and parsed once the memory its arrays will take is reserved
 *   (numbers cost far more parsed than as text: {@link JSON_ELEMENT_BYTES});
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
import type { IncomingMessage } from 'node:http';
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
/**
 * Memory per element of a JSON array beyond that: a number parsed into a JavaScript array, then
 * flattened and copied into the model's input. Measured with the default model and FP32 tensors
 * in JSON (INFER_BODY_MEMORY_MIB=0, peak resident memory): 46 to 63 bytes per value, so a body of
 * `0,0,0,…` costs about 30 bytes of memory per byte of text, not 4. Reserved from a count of the
 * commas before parsing: a client cannot make the parse take more than was reserved.
 */
const JSON_ELEMENT_BYTES = 64;
/** Memory per byte of a binary body: raw-body's chunks and their concatenation; the images are views of it. */
const BINARY_MEMORY_FACTOR = 2;

/** Limits of V2 inference bodies, from the configuration. */
export interface InferBodyLimits {
  /** Largest body with a declared Content-Length (`MAX_INFER_BODY_BYTES`). */
  readonly maxInferBodyBytes: number;
  /** An upload's limit (`MAX_UPLOAD_BYTES`): with the multipart envelope, the largest body of unknown size. */
  readonly maxUploadBytes: number;
}

/** The elements a JSON text can hold at most: one more than its commas (a base64 image holds none). */
function jsonElementsAtMost(text: Buffer): number {
  let commas = 0;
  for (let at = text.indexOf(44); at >= 0; at = text.indexOf(44, at + 1)) commas++;
  return commas + 1;
}

/**
 * Parses a JSON text after reserving the memory its arrays will take (see
 * {@link JSON_ELEMENT_BYTES}); returns the value and the function that gives that memory back.
 * `what` names the text in the 400 of invalid JSON.
 */
function parseJsonWithin(text: Buffer, memory: BodyMemory, what: string): { value: unknown; release: () => void } {
  const release = memory.reserve(jsonElementsAtMost(text) * JSON_ELEMENT_BYTES, 'Send FP32 tensors as binary data (the Inference-Header-Content-Length header), not as JSON numbers');
  try {
    const value: unknown = JSON.parse(text.toString('utf8'));
    // As koa-body's strict mode: the body is an object (or an array), not a bare value.
    if (value === null || typeof value !== 'object') throw new SyntaxError('only an object or an array is accepted');
    return { value, release };
  } catch (err) {
    release();
    if (err instanceof SyntaxError) throw new BadRequest(`${what} is not valid JSON: ${err.message}`);
    throw err;
  }
}

/** A V2 inference body as read: what is validated against the spec, and the binary part after it. */
export interface InferenceBody extends ReadBody {
  /** The JSON, or the JSON header of a binary body: what openapi-backend validates. */
  readonly validated: unknown;
  /** The bytes after a binary body's JSON header. */
  readonly payload: BinaryPart | undefined;
  /**
   * A binary body whole, as read: the payload is a view of it. The handler releases it once
   * answered, unless something still holds its images (`src/release-bytes.ts`).
   */
  readonly bytes?: Buffer;
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

/** One release for two reservations. */
const both = (a: () => void, b: () => void) => (): void => {
  a();
  b();
};

/**
 * Reads a body of a declared length into one buffer allocated before the first byte, each chunk
 * copied into place as it arrives. raw-body keeps the chunks and copies them into one buffer at
 * the end: for a batch of 64 photos (20 MB) that copy, with the page faults of its fresh memory,
 * held the event loop about 100 ms on the shared 2-core machine, and every other client's request
 * waited (issue 22, item 4). Fails as raw-body does (`request.aborted`, `request.size.invalid`),
 * for `fromBodyError`.
 */
function readDeclared(req: IncomingMessage, length: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const body = Buffer.allocUnsafe(length);
    let received = 0;
    const failure = (message: string, type: string): Error =>
      Object.assign(new Error(message), { status: 400, expected: length, received, type });
    const settle = (err?: Error): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', settle);
      req.off('aborted', onAborted);
      if (err === undefined) resolve(body);
      else {
        req.unpipe();
        req.pause();
        reject(err);
      }
    };
    const onData = (chunk: Buffer): void => {
      if (received + chunk.length > length) return settle(failure('request size did not match content length', 'request.size.invalid'));
      chunk.copy(body, received);
      received += chunk.length;
    };
    const onEnd = (): void => settle(received === length ? undefined : failure('request size did not match content length', 'request.size.invalid'));
    const onAborted = (): void => settle(failure('request aborted', 'request.aborted'));
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', settle);
    req.once('aborted', onAborted);
  });
}

/** Creates the reader; `memory` is the budget every V2 body reserves from. */
export function createInferenceBodyReader(limits: InferBodyLimits, memory: BodyMemory): InferenceBodyReader {
  const unknownSizeLimit = Math.min(limits.maxInferBodyBytes, limits.maxUploadBytes + ENVELOPE_BYTES);

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
      let body: Buffer;
      try {
        body = known ? await readDeclared(ctx.req, declared) : await getRawBody(inflate(ctx.req), { limit });
      } catch (err) {
        throw fromBodyError(err, limit, known, encoding);
      }
      if (!binary) {
        // Triton's Python client sends JSON without a Content-Type: read as JSON all the same.
        const json = parseJsonWithin(body, memory, 'The body');
        return { validated: json.value, payload: undefined, release: both(release, json.release) };
      }
      const headerLength = Number(headerLengthText);
      if (headerLength === 0) return { validated: rawRequestHeader(body.length), payload: { tail: body, raw: true }, bytes: body, release };
      const { header, tail } = splitHeader(body, headerLength);
      const json = parseJsonWithin(header, memory, `The JSON header (the first ${headerLength} bytes)`);
      return { validated: json.value, payload: { tail, raw: false }, bytes: body, release: both(release, json.release) };
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
