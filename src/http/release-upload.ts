/**
 * Gives an upload's bytes back at once, once its answer no longer needs them: the file part of
 * `POST /upload`, the body of a V2 binary inference request.
 *
 * An upload is read into a `Buffer` of its own (multer's memory storage, the V2 body reader):
 * memory outside V8's heap that only a collection of the `Buffer` object frees. At c=16 a request
 * outlives a scavenge or two (one every ≈ 13 requests), so the object is promoted and its bytes
 * wait for a full collection, which marks the whole heap on V8's helper threads. Released when
 * the answer is written (`ArrayBuffer#transfer(0)` detaches the buffer and frees its memory), the
 * service ran 0–0.5 full collections per 1,000 uploads instead of 4–7, on ≈ 7 % less CPU per
 * request (docs/performance.md). Which of V8's triggers the bytes set off was not traced.
 *
 * Only a buffer that is the whole of its `ArrayBuffer` is released: a view of a larger one (an
 * image within a V2 body, Node's pool of small buffers) may be shared. The caller says that
 * nothing else holds the bytes (a shadow classification running later, a payload logger);
 * detached, they read as empty.
 */

/** `ArrayBuffer` with ES2024's `transfer` and `detached` (Node 21 and later). */
type DetachableBuffer = ArrayBuffer & { transfer?: (newLength?: number) => ArrayBuffer; readonly detached?: boolean };

/** Frees `bytes`' memory now if they are a whole `ArrayBuffer` of their own; whether they were. */
export function releaseUpload(bytes: Uint8Array): boolean {
  const buffer = bytes.buffer as DetachableBuffer;
  if (!(buffer instanceof ArrayBuffer) || typeof buffer.transfer !== 'function' || buffer.detached === true) return false;
  if (bytes.byteOffset !== 0 || bytes.byteLength !== buffer.byteLength || buffer.byteLength === 0) return false;
  buffer.transfer(0);
  return true;
}
