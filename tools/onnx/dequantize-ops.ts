/**
 * Float32 replacements of each quantised ONNX operator, in the two forms {@link dequantizeModel}
 * offers (see there): `real` (activations hold real values; output range kept as a Clip) and
 * `steps` (activations hold `q − zero_point`, integer-valued floats, so sums are exact and each
 * output is rounded as integer arithmetic rounds it).
 */
import type { NodeProto, TensorProto } from '../../src/model/onnx/types.js';
import { node } from './builder.js';
import { floatTensor } from '../../src/model/onnx/tensor.js';
import type { Initializers, QuantParams } from './quant-params.js';
import { constantOf, dequantizeConstant, quantParams, quantRange, realRange } from './quant-params.js';

/** How activations are represented in the float graph. */
export type Representation = 'real' | 'steps';

/** The float graph being written. */
export interface Rewrite {
  readonly inits: Initializers;
  readonly nodes: NodeProto[];
  readonly added: TensorProto[];
  readonly representation: Representation;
}

/** A quantised node's operand: value input index, then its scale and zero point indices. */
type Operand = readonly [value: number, scale: number, zeroPoint: number];

function label(n: NodeProto): string {
  return `${n.opType ?? '?'} ${n.name ?? n.output?.[0] ?? ''}`.trim();
}

function params(rw: Rewrite, n: NodeProto, [, s, z]: Operand): QuantParams {
  return quantParams(rw.inits, n.input?.[s], n.input?.[z], label(n));
}

function constant(rw: Rewrite, name: string, dims: readonly number[], values: ArrayLike<number>): string {
  if (!rw.added.some((t) => t.name === name)) rw.added.push(floatTensor(name, dims, values));
  return name;
}

/**
 * The float operand for input `op` of node `n`: an activation's own name, or a constant
 * converted to the representation (`axis`: the axis of per-axis parameters).
 */
function operand(rw: Rewrite, n: NodeProto, op: Operand, axis: number): string {
  const name = n.input?.[op[0]] ?? '';
  const q = rw.inits.get(name);
  if (!q) return name;
  const p = params(rw, n, op);
  const asSteps = rw.representation === 'steps';
  const values = dequantizeConstant(q, asSteps ? { ...p, scale: p.scale.map(() => 1) } : p, axis);
  return constant(rw, `${name}_${asSteps ? 'steps' : 'float'}`, q.dims ?? [], values);
}

/**
 * Writes output `out` from `x`, a value on the output's scale: in `real`, `x` is real and is
 * clipped to the output's range; in `steps`, `x` is in output steps (before rounding) and becomes
 * `Clip(Round(x), qmin − zp, qmax − zp)`.
 */
function requantize(rw: Rewrite, x: string, out: string, p: QuantParams, where: string): void {
  if (rw.representation === 'real') {
    const [min, max] = realRange(p, where);
    rw.nodes.push(node('Clip', [x, constant(rw, `${out}_min`, [], [min]), constant(rw, `${out}_max`, [], [max])], [out]));
    return;
  }
  const [qmin, qmax] = quantRange(p.dataType);
  const zp = p.zeroPoint[0]!;
  rw.nodes.push(
    node('Round', [x], [`${out}_rounded`]),
    node('Clip', [`${out}_rounded`, constant(rw, `${out}_min`, [], [qmin - zp]), constant(rw, `${out}_max`, [], [qmax - zp])], [out]),
  );
}

/** Multiplies `x` by a constant (scalar or shaped), returning the product's name. */
function scaled(rw: Rewrite, x: string, factor: ArrayLike<number>, dims: readonly number[], name: string): string {
  rw.nodes.push(node('Mul', [x, constant(rw, `${name}_factor`, dims, factor)], [name]));
  return name;
}

/** QuantizeLinear: real input → the representation. */
export function quantizeLinear(rw: Rewrite, n: NodeProto): void {
  const out = n.output?.[0] ?? '';
  const p = params(rw, n, [0, 1, 2]);
  const x = n.input?.[0] ?? '';
  if (rw.representation === 'real') return requantize(rw, x, out, p, label(n));
  // ONNX QuantizeLinear divides by the scale: round(x / s).
  rw.nodes.push(node('Div', [x, constant(rw, `${out}_scale`, [], [p.scale[0]!])], [`${out}_in_steps`]));
  requantize(rw, `${out}_in_steps`, out, p, label(n));
}

/** DequantizeLinear: the representation → real values. */
export function dequantizeLinear(rw: Rewrite, n: NodeProto): void {
  const out = n.output?.[0] ?? '';
  const name = n.input?.[0] ?? '';
  const p = params(rw, n, [0, 1, 2]);
  if (rw.inits.has(name)) {
    const q = constantOf(rw.inits, name, label(n));
    rw.nodes.push(node('Identity', [constant(rw, `${name}_float`, q.dims ?? [], dequantizeConstant(q, p, 0))], [out]));
  } else if (rw.representation === 'real') {
    rw.nodes.push(node('Identity', [name], [out]));
  } else {
    scaled(rw, name, [p.scale[0]!], [], out);
  }
}

/**
 * QLinearConv and QLinearMatMul: the float op on the operands, then requantisation. In `steps`
 * the accumulator is multiplied by `sx·sw[k]/sy` per output channel (`channelDims`: the shape
 * that broadcasts over output channels), as integer kernels requantise.
 */
export function linear(rw: Rewrite, n: NodeProto, opType: 'Conv' | 'MatMul', weightAxis: number, channelDims: (k: number) => number[]): void {
  const out = n.output?.[0] ?? '';
  const x: Operand = [0, 1, 2];
  const w: Operand = [3, 4, 5];
  const y = params(rw, n, [0, 6, 7]);
  const sx = params(rw, n, x).scale[0]!;
  const sw = params(rw, n, w).scale;
  const inputs = [operand(rw, n, x, 0), operand(rw, n, w, weightAxis)];
  const bias = opType === 'Conv' ? n.input?.[8] : undefined;
  if (bias) {
    // The int32 bias is quantised with scale sx·sw[m] and zero point 0.
    const b = constantOf(rw.inits, bias, label(n));
    const s = rw.representation === 'steps' ? sw.map(() => 1) : sw.map((v) => v * sx);
    const values = dequantizeConstant(b, { scale: s, zeroPoint: new Float64Array(s.length), dataType: 0 }, 0);
    inputs.push(constant(rw, `${bias}_${rw.representation}`, b.dims ?? [], values));
  }
  rw.nodes.push({ ...node(opType, inputs, [`${out}_acc`]), attribute: opType === 'Conv' ? (n.attribute ?? []) : [] });
  if (rw.representation === 'real') return requantize(rw, `${out}_acc`, out, y, label(n));
  // As onnxruntime computes the requantisation multiplier: float32 (sx · sw) / sy.
  const m = Float32Array.from(sw, (v) => Math.fround(Math.fround(sx * v) / y.scale[0]!));
  // The multiplier comes first: onnxruntime folds `Mul(conv, constant)` into the weights (and
  // `Mul(matmul, constant)` into a FusedMatMul), which would break exactness; it leaves
  // `Mul(constant, x)` alone (a test reads back onnxruntime's optimised graph to check).
  const factor = constant(rw, `${out}_acc_steps_factor`, m.length === 1 ? [] : channelDims(m.length), m);
  rw.nodes.push(node('Mul', [factor, `${out}_acc`], [`${out}_acc_steps`]));
  requantize(rw, `${out}_acc_steps`, out, y, label(n));
}

/** QLinearAdd / QLinearMul (com.microsoft): element-wise op, then requantisation. */
export function elementwise(rw: Rewrite, n: NodeProto, opType: 'Add' | 'Mul'): void {
  const out = n.output?.[0] ?? '';
  const a: Operand = [0, 1, 2];
  const b: Operand = [3, 4, 5];
  const c = params(rw, n, [0, 6, 7]);
  const [va, vb] = [operand(rw, n, a, 0), operand(rw, n, b, 0)];
  if (rw.representation === 'real') {
    rw.nodes.push(node(opType, [va, vb], [`${out}_sum`]));
    return requantize(rw, `${out}_sum`, out, c, label(n));
  }
  const [sa, sb, sc] = [params(rw, n, a).scale[0]!, params(rw, n, b).scale[0]!, c.scale[0]!];
  if (opType === 'Add') {
    const ta = scaled(rw, va, [sa / sc], [], `${out}_a_steps`);
    const tb = scaled(rw, vb, [sb / sc], [], `${out}_b_steps`);
    rw.nodes.push(node('Add', [ta, tb], [`${out}_sum`]));
    return requantize(rw, `${out}_sum`, out, c, label(n));
  }
  rw.nodes.push(node('Mul', [va, vb], [`${out}_product`]));
  requantize(rw, scaled(rw, `${out}_product`, [(sa * sb) / sc], [], `${out}_sum`), out, c, label(n));
}

/** QLinearGlobalAveragePool (com.microsoft, NCHW): GlobalAveragePool, then requantisation. */
export function globalAveragePool(rw: Rewrite, n: NodeProto): void {
  const out = n.output?.[0] ?? '';
  const x: Operand = [0, 1, 2];
  const y = params(rw, n, [0, 3, 4]);
  rw.nodes.push(node('GlobalAveragePool', [operand(rw, n, x, 0)], [`${out}_mean`]));
  if (rw.representation === 'real') return requantize(rw, `${out}_mean`, out, y, label(n));
  requantize(rw, scaled(rw, `${out}_mean`, [params(rw, n, x).scale[0]! / y.scale[0]!], [], `${out}_mean_steps`), out, y, label(n));
}
