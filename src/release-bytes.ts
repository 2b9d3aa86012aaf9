/**
 * Gives a buffer's memory back at once, once nothing needs its bytes: the file part of
 * `POST /upload`, the body of a V2 binary inference request and a gRPC `ModelInfer` message once
 * their answer is made (the front-ends), an upload's decoded pixels once the inference worker has
 * its copy, and that copy once the forward pass has read it (`model/engine/`).
 *
 * Such bytes live in a `Buffer` of their own (multer's memory storage, the V2 body reader,
 * grpc-js's framing of each received message, sharp's output): memory outside V8's heap that only
 * a collection of the `Buffer` object frees.
 * At c=16 a request outlives a scavenge or two (one every ≈ 13 requests), so the object is
 * promoted and its bytes wait for a full collection, which marks the whole heap on V8's helper
 * threads. Released at once (`ArrayBuffer#transfer(0)` detaches the buffer and frees its
 * memory), the uploads' bytes took the service from 4–7 full collections per 1,000 uploads to
 * 0–0.5, on ≈ 7 % less CPU per request; the decoded pixels then took ≈ 60–100 MiB off its memory
 * under load (docs/performance.md). Which of V8's triggers the bytes set off was not traced.
 *
 * Only a buffer that is the whole of its `ArrayBuffer` is released: a view of a larger one (an
 * image within a V2 body, Node's pool of small buffers) may be shared. The caller says that
 * nothing else holds the bytes (a shadow classification running later, a payload logger, an
 * explanation that reads its image again); detached, they read as empty.
 */

/** `ArrayBuffer` with ES2024's `transfer` and `detached` (Node 21 and later). */
type DetachableBuffer = ArrayBuffer & { transfer?: (newLength?: number) => ArrayBuffer; readonly detached?: boolean };

/** Detaches `buffer`, freeing its memory, where the runtime can; whether it did. */
function detach(buffer: ArrayBufferLike): boolean {
  const detachable = buffer as DetachableBuffer;
  if (!(detachable instanceof ArrayBuffer) || typeof detachable.transfer !== 'function' || detachable.detached === true) return false;
  detachable.transfer(0);
  return true;
}

/** Frees `bytes`' memory now if they are a whole `ArrayBuffer` of their own; whether they were. */
export function releaseBytes(bytes: ArrayBufferView): boolean {
  const buffer = bytes.buffer;
  if (bytes.byteOffset !== 0 || bytes.byteLength !== buffer.byteLength || buffer.byteLength === 0) return false;
  return detach(buffer);
}

/**
 * Frees the memory behind `views` now if they all lie in one `ArrayBuffer` larger than Node's
 * slabs of small buffers (`Buffer.poolSize`, which many unrelated `Buffer`s share): the byte fields
 * of a received gRPC message, which protobufjs decodes as views of the buffer grpc-js framed that
 * message in (a buffer per message, its 5-byte header and its bytes). The caller says that buffer
 * is the message's alone; whether it was freed. Empty views are ignored (protobufjs may give an
 * empty field a buffer of its own).
 */
export function releaseBackingBuffer(views: readonly ArrayBufferView[]): boolean {
  const held = views.filter((view) => view.byteLength > 0);
  const buffer = held[0]?.buffer;
  if (buffer === undefined || held.some((view) => view.buffer !== buffer)) return false;
  if (buffer.byteLength <= Buffer.poolSize) return false;
  return detach(buffer);
}
