/**
 * Quantisation parameters of a QOperator graph: reading scales and zero points from
 * initialisers and turning quantised constants back into float32 values.
 *
 * ONNX linear quantisation: `real = scale · (q − zero_point)`, with q an int8/uint8 (or int32
 * for biases) value; scale and zero point are per tensor (scalars) or per axis (1-D).
 */
import type { TensorProto } from '../../src/model/onnx/types.js';
import { DataType } from '../../src/model/onnx/types.js';
import { tensorNumbers } from '../../src/model/onnx/tensor.js';

/** Smallest and largest value of a quantised data type. */
export function quantRange(dataType: number): readonly [number, number] {
  switch (dataType) {
    case DataType.UINT8:
      return [0, 255];
    case DataType.INT8:
      return [-128, 127];
    default:
      throw new TypeError(`data type ${dataType} is not an 8-bit quantised type`);
  }
}

/** Scale and zero point of one quantised tensor. */
export interface QuantParams {
  /** One value (per tensor) or one per slice along {@link QuantParams.axis}. */
  readonly scale: Float64Array;
  readonly zeroPoint: Float64Array;
  /** Data type of the quantised values (from the zero point): UINT8 or INT8. */
  readonly dataType: number;
}

/** Initialisers of a graph by name. */
export type Initializers = ReadonlyMap<string, TensorProto>;

/** Looks up a constant or throws naming the node that needs it. */
export function constantOf(inits: Initializers, name: string | undefined, where: string): TensorProto {
  const t = name === undefined || name === '' ? undefined : inits.get(name);
  if (!t) throw new TypeError(`${where}: ${name ?? '(missing input)'} must be an initializer`);
  return t;
}

/** Reads the scale and zero point of a quantised tensor (a missing zero point means 0, uint8). */
export function quantParams(inits: Initializers, scale: string | undefined, zeroPoint: string | undefined, where: string): QuantParams {
  const s = tensorNumbers(constantOf(inits, scale, where));
  if (zeroPoint === undefined || zeroPoint === '') {
    return { scale: s, zeroPoint: new Float64Array(s.length), dataType: DataType.UINT8 };
  }
  const zpTensor = constantOf(inits, zeroPoint, where);
  const zp = tensorNumbers(zpTensor);
  if (zp.length !== s.length) throw new TypeError(`${where}: scale and zero point sizes differ`);
  return { scale: s, zeroPoint: zp, dataType: zpTensor.dataType ?? DataType.UINT8 };
}

/** The real range a quantised tensor can represent: `[scale·(qmin−zp), scale·(qmax−zp)]` (per tensor only). */
export function realRange(p: QuantParams, where: string): readonly [number, number] {
  if (p.scale.length !== 1) throw new TypeError(`${where}: per-axis quantised activations are not supported`);
  const [qmin, qmax] = quantRange(p.dataType);
  const s = p.scale[0]!;
  const zp = p.zeroPoint[0]!;
  return [s * (qmin - zp), s * (qmax - zp)];
}

/**
 * Dequantises a constant: `scale[k] · (q − zp[k])`, where k is the index along `axis` when
 * the parameters are per axis (conv weights: axis 0; matmul B: last axis).
 */
export function dequantizeConstant(q: TensorProto, p: QuantParams, axis: number): Float32Array {
  const values = tensorNumbers(q);
  const dims = q.dims ?? [];
  const out = new Float32Array(values.length);
  if (p.scale.length === 1) {
    for (let i = 0; i < values.length; i++) out[i] = p.scale[0]! * (values[i]! - p.zeroPoint[0]!);
    return out;
  }
  const ax = axis < 0 ? dims.length + axis : axis;
  if (dims[ax] !== p.scale.length) {
    throw new TypeError(`constant ${q.name ?? ''}: ${p.scale.length} scales for axis ${ax} of size ${dims[ax] ?? '?'}`);
  }
  const inner = dims.slice(ax + 1).reduce((a, b) => a * b, 1);
  for (let i = 0; i < values.length; i++) {
    const k = Math.floor(i / inner) % p.scale.length;
    out[i] = p.scale[k]! * (values[i]! - p.zeroPoint[k]!);
  }
  return out;
}
