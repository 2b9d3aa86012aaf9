/**
 * The binary tensor data extension's framing (Triton's `extension_binary_data`), both ways.
 *
 * A body is the JSON header (`Inference-Header-Content-Length` bytes), then the binary tensors one
 * after the other, in the order of the header's inputs (or outputs), each as long as its
 * `parameters.binary_data_size`. Tensor data is little-endian, row-major, without padding; a BYTES
 * tensor is its elements one after the other, each a 4-byte little-endian unsigned length followed
 * by that many bytes.
 *
 * Every length read from a body is checked against what is left before it is used: a lie is a
 * {@link BinaryDataInvalid}, never a large allocation or a read past the end. Tensors are views
 * into the body (no copy).
 */
import { BinaryDataInvalid } from '../errors.js';

/** Bytes of the length prefix of a BYTES element. */
export const BYTES_LENGTH_PREFIX = 4;

/**
 * Splits a body at the end of its JSON header.
 *
 * @throws {@link BinaryDataInvalid} when the header would end past the body.
 */
export function splitHeader(body: Buffer, headerLength: number): { readonly header: Buffer; readonly tail: Buffer } {
  if (headerLength > body.length) {
    throw new BinaryDataInvalid(`Inference-Header-Content-Length is ${headerLength}, but the body has ${body.length} bytes`);
  }
  return { header: body.subarray(0, headerLength), tail: body.subarray(headerLength) };
}

/** One tensor's place in the binary part of a body. */
export interface BinarySlice {
  /** The tensor's name, for messages. */
  readonly name: string;
  /** Its `binary_data_size`. */
  readonly size: number;
}

/**
 * Cuts the bytes after the header into the binary tensors, in order.
 *
 * @throws {@link BinaryDataInvalid} when a size runs past the end, or bytes are left over.
 */
export function sliceTensors(tail: Buffer, slices: readonly BinarySlice[]): Buffer[] {
  let offset = 0;
  const tensors = slices.map(({ name, size }) => {
    if (size > tail.length - offset) {
      throw new BinaryDataInvalid(
        `Input "${name}" declares binary_data_size ${size}, but only ${tail.length - offset} bytes are left after the header and the tensors before it`,
      );
    }
    const tensor = tail.subarray(offset, offset + size);
    offset += size;
    return tensor;
  });
  if (offset !== tail.length) {
    throw new BinaryDataInvalid(
      `${tail.length - offset} bytes follow the binary tensors that the header declares (${offset} bytes in all): a binary_data_size is wrong, or an input lacks one`,
    );
  }
  return tensors;
}

/**
 * The elements of a BYTES tensor. Stops at `maxElements` + 1 elements, so that a tensor of many
 * tiny elements cannot make a large array before its count is refused.
 *
 * @throws {@link BinaryDataInvalid} when a length prefix is cut short or an element runs past the tensor.
 */
export function readBytesElements(name: string, tensor: Buffer, maxElements: number): Buffer[] {
  const elements: Buffer[] = [];
  let offset = 0;
  while (offset < tensor.length && elements.length <= maxElements) {
    if (tensor.length - offset < BYTES_LENGTH_PREFIX) {
      throw new BinaryDataInvalid(`Input "${name}" element ${elements.length}: its 4-byte length is cut short by the end of the tensor`);
    }
    const length = tensor.readUInt32LE(offset);
    offset += BYTES_LENGTH_PREFIX;
    if (length > tensor.length - offset) {
      throw new BinaryDataInvalid(
        `Input "${name}" element ${elements.length} declares ${length} bytes, but its tensor has ${tensor.length - offset} left`,
      );
    }
    elements.push(tensor.subarray(offset, offset + length));
    offset += length;
  }
  return elements;
}

/** A BYTES tensor of `elements`: each a 4-byte little-endian length, then its bytes. */
export function writeBytesElements(elements: readonly Uint8Array[]): Buffer {
  const out = Buffer.allocUnsafe(elements.reduce((sum, e) => sum + BYTES_LENGTH_PREFIX + e.length, 0));
  let offset = 0;
  for (const element of elements) {
    offset = out.writeUInt32LE(element.length, offset);
    out.set(element, offset);
    offset += element.length;
  }
  return out;
}

/** An FP32 tensor of `values`, little-endian. */
export function writeFp32(values: ArrayLike<number>): Buffer {
  const out = Buffer.allocUnsafe(values.length * 4);
  for (let i = 0; i < values.length; i++) out.writeFloatLE(values[i]!, i * 4);
  return out;
}

/** The values of a little-endian FP32 tensor (its length a multiple of 4), copied out of the body. */
export function readFp32(tensor: Buffer): Float32Array {
  const values = new Float32Array(tensor.length / 4);
  for (let i = 0; i < values.length; i++) values[i] = tensor.readFloatLE(i * 4);
  return values;
}

/**
 * A body of the extension: `header` as JSON, then `tensors` in order. Resolves to the body and
 * the header's length (for `Inference-Header-Content-Length`).
 */
export function writeBody(header: unknown, tensors: readonly Buffer[]): { readonly body: Buffer; readonly headerLength: number } {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  return { body: Buffer.concat([json, ...tensors]), headerLength: json.length };
}
