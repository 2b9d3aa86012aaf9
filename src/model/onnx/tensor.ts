/**
 * Creating ONNX tensors from typed arrays and reading their values back.
 * Tensors are written with `rawData` (little-endian, as the format requires).
 */
import type { TensorProto } from './types.js';
import { DataType } from './types.js';

/** The typed array that holds the values of a tensor of each supported data type. */
export type TensorValues = Float32Array | Uint8Array | Int8Array | Int32Array | BigInt64Array;

function toBytes(values: ArrayBufferView): Uint8Array {
  // Copy so the tensor never aliases (and later sees changes to) the caller's buffer.
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength).slice();
}

function checkSize(name: string, dims: readonly number[], length: number): void {
  const size = dims.reduce((a, b) => a * b, 1);
  if (size !== length) throw new RangeError(`tensor ${name}: dims [${dims.join(', ')}] hold ${size} values, got ${length}`);
}

/** A float32 tensor. */
export function floatTensor(name: string, dims: readonly number[], values: ArrayLike<number>): TensorProto {
  checkSize(name, dims, values.length);
  return { name, dims: [...dims], dataType: DataType.FLOAT, rawData: toBytes(Float32Array.from(values)) };
}

/** An int64 tensor (shapes, axes). */
export function int64Tensor(name: string, dims: readonly number[], values: ArrayLike<number>): TensorProto {
  checkSize(name, dims, values.length);
  const data = BigInt64Array.from(Array.from(values, (v) => BigInt(v)));
  return { name, dims: [...dims], dataType: DataType.INT64, rawData: toBytes(data) };
}

/** A uint8 tensor (quantised values, zero points). */
export function uint8Tensor(name: string, dims: readonly number[], values: ArrayLike<number>): TensorProto {
  checkSize(name, dims, values.length);
  return { name, dims: [...dims], dataType: DataType.UINT8, rawData: toBytes(Uint8Array.from(values)) };
}

/** An int8 tensor (quantised weights, zero points). */
export function int8Tensor(name: string, dims: readonly number[], values: ArrayLike<number>): TensorProto {
  checkSize(name, dims, values.length);
  return { name, dims: [...dims], dataType: DataType.INT8, rawData: toBytes(Int8Array.from(values)) };
}

/** An int32 tensor (quantised biases). */
export function int32Tensor(name: string, dims: readonly number[], values: ArrayLike<number>): TensorProto {
  checkSize(name, dims, values.length);
  return { name, dims: [...dims], dataType: DataType.INT32, rawData: toBytes(Int32Array.from(values)) };
}

/** Number of values a tensor holds according to its dims. */
function tensorSize(tensor: TensorProto): number {
  return (tensor.dims ?? []).reduce((a, b) => a * b, 1);
}

function fromRaw(raw: Uint8Array, dataType: number, size: number): TensorValues {
  // Copy into a fresh, aligned buffer: rawData is often an unaligned view into the file
  // (and Buffer#slice would not copy).
  const bytes = new Uint8Array(raw);
  switch (dataType) {
    case DataType.FLOAT:
      return new Float32Array(bytes.buffer, 0, size);
    case DataType.UINT8:
      return new Uint8Array(bytes.buffer, 0, size);
    case DataType.INT8:
      return new Int8Array(bytes.buffer, 0, size);
    case DataType.INT32:
      return new Int32Array(bytes.buffer, 0, size);
    case DataType.INT64:
      return new BigInt64Array(bytes.buffer, 0, size);
    default:
      throw new TypeError(`unsupported tensor data type ${dataType}`);
  }
}

/**
 * The values of a tensor, from `rawData` or the typed field, as the typed array of its data type.
 * Supports FLOAT, UINT8, INT8, INT32 and INT64; throws on others and on external data.
 */
export function tensorValues(tensor: TensorProto): TensorValues {
  const dataType = tensor.dataType ?? 0;
  const size = tensorSize(tensor);
  if (tensor.dataLocation === 1) throw new TypeError(`tensor ${tensor.name ?? ''}: external data is not supported`);
  if (tensor.rawData && tensor.rawData.length > 0) return fromRaw(tensor.rawData, dataType, size);
  switch (dataType) {
    case DataType.FLOAT:
      return Float32Array.from(tensor.floatData ?? []);
    case DataType.UINT8:
      return Uint8Array.from(tensor.int32Data ?? []);
    case DataType.INT8:
      return Int8Array.from(tensor.int32Data ?? []);
    case DataType.INT32:
      return Int32Array.from(tensor.int32Data ?? []);
    case DataType.INT64:
      return BigInt64Array.from((tensor.int64Data ?? []).map((v) => BigInt(v)));
    default:
      throw new TypeError(`unsupported tensor data type ${dataType}`);
  }
}

/** The values of a numeric tensor as float64 numbers (int64 converted, exact below 2^53). */
export function tensorNumbers(tensor: TensorProto): Float64Array {
  const values = tensorValues(tensor);
  return values instanceof BigInt64Array ? Float64Array.from(values, (v) => Number(v)) : Float64Array.from(values);
}
