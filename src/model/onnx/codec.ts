/**
 * Reading and writing ONNX model files (`ModelProto`) as plain objects.
 */
import type { ModelProto } from './types.js';
import { OnnxFormatError } from './errors.js';
import { ModelProtoType } from './schema.js';

/**
 * Decodes an ONNX file into a plain {@link ModelProto}: int64 fields become `number`
 * (ONNX sizes and attributes fit in 2^53), bytes stay `Uint8Array` views (no copy).
 */
export function decodeModel(bytes: Uint8Array): ModelProto {
  let message;
  try {
    message = ModelProtoType.decode(bytes);
  } catch (err) {
    throw new OnnxFormatError(`not an ONNX model: ${(err as Error).message}`, { cause: err });
  }
  const model = ModelProtoType.toObject(message, { longs: Number, enums: Number, arrays: false }) as ModelProto;
  if (!model.graph) throw new OnnxFormatError('not an ONNX model: no graph');
  return model;
}

/** Encodes a {@link ModelProto} into the bytes of an ONNX file. */
export function encodeModel(model: ModelProto): Uint8Array {
  const problem = ModelProtoType.verify(model);
  if (problem) throw new OnnxFormatError(`invalid ONNX model object: ${problem}`);
  return ModelProtoType.encode(ModelProtoType.fromObject(model)).finish();
}
