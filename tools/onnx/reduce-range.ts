/**
 * Re-quantises the int8 weights of a QOperator graph to 7 bits (|w| ≤ 64), so that onnxruntime's
 * u8s8 kernels compute exact integer sums on every CPU, and keeps the network as close as it can to
 * the 8-bit one.
 *
 * Why 64: without VNNI, x86 kernels multiply uint8 activations by int8 weights with `VPMADDUBSW`,
 * which adds adjacent products into a saturating int16. With |w| ≤ 64 a pair is at most
 * 255·64·2 = 32,640 ≤ 32,767 whatever the activations and however the kernel pairs them, so the
 * sums are exact (src/model/int8/weight-range.ts checks this bound when loading a model).
 * onnxruntime's own quantiser does the same with `reduce_range=True`.
 *
 * How, for each output channel of each QLinearConv / QLinearMatMul whose largest |w| exceeds 64
 * (the others are kept as they are):
 * - scale: the channel's int8 range [−m, m] (m its largest |w|) is mapped onto [−64, 64]: new
 *   scale s′ = s·m/64 (float32), about 2s for the Zoo's full-range channels (m = 127), as
 *   onnxruntime's quantiser would choose from these weights with `reduce_range`. (Choosing a
 *   smaller m′ that clips the largest weights to minimise the channel's squared weight error, or
 *   exactly 2s, measured no better: docs/model.md);
 * - weights: w′ = round(w·s/s′), half to even (halving the Zoo's weights and rounding half away
 *   from zero, a first try, enlarged every odd weight), clipped to ±64;
 * - bias (QLinearConv with a bias, when the mean inputs are given): the rounding errors shift
 *   each channel's mean pre-activation by Σ μ·(s′w′ − s·w), μ the mean input `x − zx` of each
 *   weight; the int32 bias is re-quantised to s′ with that shift taken off, so the channel's
 *   mean output is unchanged ("bias correction"). μ comes from per-channel means measured on
 *   photos ({@link InputMeans}, tools/onnx/activation-means.ts); a tap that falls in the padding
 *   reads the zero point, so each weight's μ is the channel mean times the share of outputs whose
 *   window it covers inside the image.
 *
 * Deterministic: the same model and means give the same bytes (plain float64 arithmetic).
 */
import type { GraphProto, ModelProto, NodeProto, TensorProto } from '../../src/model/onnx/types.js';
import { DataType } from '../../src/model/onnx/types.js';
import { UnsupportedQuantizedGraph } from '../../src/model/onnx/errors.js';
import { floatTensor, int32Tensor, int8Tensor, tensorNumbers } from '../../src/model/onnx/tensor.js';

/** Largest |w| of a 7-bit weight. */
export const MAX_7BIT_WEIGHT = 64;

/** Per-channel mean of the uint8 values of a tensor, with its shape without the batch axis (`[C, H, W]` or `[K]`). */
export interface TensorMeans {
  readonly shape: readonly number[];
  readonly mean: readonly number[];
}

/** {@link TensorMeans} of the activation inputs of linear nodes, by tensor name. */
export type InputMeans = Readonly<Record<string, TensorMeans>>;

/** What changed, for the build's log. */
export interface ReduceRangeReport {
  /** Nodes and output channels re-quantised. */
  readonly nodes: number;
  readonly channels: number;
  /** Convolutions whose biases were corrected (means given). */
  readonly biasCorrected: number;
}

/** Round half to even, as integer requantisation rounds. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

const clamp = (v: number): number => Math.max(-MAX_7BIT_WEIGHT, Math.min(MAX_7BIT_WEIGHT, v));
const ints = (n: NodeProto, name: string, fallback: readonly number[]): readonly number[] =>
  n.attribute?.find((a) => a.name === name)?.ints ?? fallback;

/**
 * The 7-bit scale and weights of one channel (see the module comment): `values` are its int8
 * weights, `s` its scale. A channel already within ±64 is returned unchanged.
 */
export function requantizeChannel(values: ArrayLike<number>, s: number): { scale: number; weights: Float64Array } {
  let m = 0;
  for (let i = 0; i < values.length; i++) m = Math.max(m, Math.abs(values[i]!));
  if (m <= MAX_7BIT_WEIGHT) return { scale: s, weights: Float64Array.from(values) };
  const scale = Math.fround((s * m) / MAX_7BIT_WEIGHT);
  return { scale, weights: Float64Array.from(values, (w) => clamp(roundHalfEven((w * s) / scale))) };
}

/**
 * For a conv weight position (tap `a` along an axis), the share of output positions whose
 * window reads it inside the input (not the padding).
 */
function insideShare(size: number, kernel: number, stride: number, padBegin: number, padEnd: number, dilation: number, a: number): number {
  const outputs = Math.floor((size + padBegin + padEnd - dilation * (kernel - 1) - 1) / stride) + 1;
  let inside = 0;
  for (let o = 0; o < outputs; o++) {
    const i = o * stride + a * dilation - padBegin;
    if (i >= 0 && i < size) inside++;
  }
  return inside / outputs;
}

/** μ (mean `x − zx`) of each weight position `[C/group, kh, kw]` of a conv, by input channel offset. */
function convInputMeans(n: NodeProto, means: TensorMeans, zx: number, weightDims: readonly number[]): (c: number, tap: number) => number {
  const [, , kh = 1, kw = 1] = weightDims;
  const [, H = 1, W = 1] = means.shape;
  const [sh = 1, sw = 1] = ints(n, 'strides', [1, 1]);
  const [dh = 1, dw = 1] = ints(n, 'dilations', [1, 1]);
  const [pt = 0, pl = 0, pb = 0, pr = 0] = ints(n, 'pads', [0, 0, 0, 0]);
  const rows = Array.from({ length: kh }, (_, a) => insideShare(H, kh, sh, pt, pb, dh, a));
  const cols = Array.from({ length: kw }, (_, b) => insideShare(W, kw, sw, pl, pr, dw, b));
  return (c, tap) => (means.mean[c]! - zx) * rows[Math.floor(tap / kw)]! * cols[tap % kw]!;
}

/** Initialisers by name, refusing any that `node` reads and another input also reads. */
function ownedConstants(graph: GraphProto, n: NodeProto, indices: readonly number[]): void {
  const mine = new Set(indices.map((i) => n.input?.[i] ?? '').filter((x) => x !== ''));
  let reads = 0;
  for (const other of graph.node ?? []) for (const input of other.input ?? []) if (mine.has(input)) reads++;
  if (reads !== mine.size) throw new UnsupportedQuantizedGraph(`${n.opType ?? '?'} ${n.name ?? ''}: its weights, scales or bias are shared with other inputs`);
}

/** One linear node's int8 weights, laid out by output channel. */
interface LinearWeights {
  readonly w: Float64Array;
  readonly s: Float64Array;
  readonly channels: number;
  /** Weights per output channel. */
  readonly inner: number;
  /** Index in `w` of weight `j` of output channel `k`. */
  readonly at: (k: number, j: number) => number;
}

function linearWeights(n: NodeProto, wT: TensorProto, sT: TensorProto): LinearWeights {
  const w = tensorNumbers(wT);
  const dims = wT.dims ?? [];
  // Conv weights [M, C/group, kh, kw] (channel = row); MatMul B [K, N] (channel = column).
  const isConv = n.opType === 'QLinearConv';
  const channels = isConv ? dims[0]! : dims[dims.length - 1]!;
  const inner = w.length / channels;
  return { w, s: tensorNumbers(sT), channels, inner, at: isConv ? (k, j) => k * inner + j : (k, j) => j * channels + k };
}

/**
 * Re-quantises one node's weights in place in `out` (weights, scales, biases), returning how
 * many channels changed. Per-tensor scales make all channels one group sharing one scale.
 */
function requantizeNode(lw: LinearWeights, out: { w: Float64Array; s: Float64Array; b?: Float64Array }, bias: Float64Array | undefined, mu?: (k: number, j: number) => number): number {
  const { w, s, channels, inner, at } = lw;
  const groups = s.length === channels ? Array.from({ length: channels }, (_, k) => [k]) : [Array.from({ length: channels }, (_, k) => k)];
  let changed = 0;
  for (const [g, members] of groups.entries()) {
    const positions = members.flatMap((k) => Array.from({ length: inner }, (_, j) => at(k, j)));
    const { scale, weights } = requantizeChannel(positions.map((i) => w[i]!), s[g]!);
    if (scale === s[g]) continue;
    positions.forEach((i, p) => (out.w[i] = weights[p]!));
    out.s[g] = scale;
    changed += members.length;
    for (const k of members) {
      if (!out.b || !bias) continue;
      let drift = 0;
      for (let j = 0; mu && j < inner; j++) drift += mu(k, j) * (scale * out.w[at(k, j)]! - s[g]! * w[at(k, j)]!);
      out.b[k] = roundHalfEven((s[g]! * bias[k]! - drift) / scale);
      if (Math.abs(out.b[k]) >= 2 ** 31) throw new RangeError(`bias of channel ${k} overflows int32`);
    }
  }
  return changed;
}

/**
 * Returns the model with every int8 QLinearConv / QLinearMatMul weight within ±64 (see the module
 * comment) and what changed; the input model is not modified. Bias correction needs `means`
 * (measured on the model given here); without it, biases are only re-quantised to the new scales.
 * @throws {UnsupportedQuantizedGraph} for non-zero weight zero points (the Zoo's and onnxruntime's
 *   per-channel weights are symmetric) or weights, scales and biases shared between inputs.
 */
export function reduceWeightRange(model: ModelProto, means?: InputMeans): { model: ModelProto; report: ReduceRangeReport } {
  const graph = model.graph ?? {};
  const inits = new Map((graph.initializer ?? []).map((t) => [t.name ?? '', t]));
  const replaced = new Map<string, TensorProto>();
  const report = { nodes: 0, channels: 0, biasCorrected: 0 };
  for (const n of graph.node ?? []) {
    const isConv = n.opType === 'QLinearConv';
    if (!isConv && n.opType !== 'QLinearMatMul') continue;
    const [x = '', , zxName = '', wName = '', sName = '', zwName = '', , , bName = ''] = n.input ?? [];
    const wT = inits.get(wName);
    const sT = inits.get(sName);
    if (wT?.dataType !== DataType.INT8 || !sT) continue;
    const where = `${n.opType ?? '?'} ${n.name ?? ''}`;
    const lw = linearWeights(n, wT, sT);
    if (lw.w.every((v) => Math.abs(v) <= MAX_7BIT_WEIGHT)) continue;
    const zw = inits.get(zwName);
    if (zw && tensorNumbers(zw).some((z) => z !== 0)) throw new UnsupportedQuantizedGraph(`${where}: only symmetric int8 weights (zero point 0) are supported`);
    ownedConstants(graph, n, [3, 4, 5, 8]);
    const bT = isConv ? inits.get(bName) : undefined;
    const bias = bT ? tensorNumbers(bT) : undefined;
    let mu: ((k: number, j: number) => number) | undefined;
    if (isConv && bias && means?.[x]) {
      const dims = wT.dims ?? [];
      const taps = (dims[2] ?? 1) * (dims[3] ?? 1);
      const perGroup = lw.channels / Number(n.attribute?.find((a) => a.name === 'group')?.i ?? 1);
      const channelMean = convInputMeans(n, means[x], tensorNumbers(inits.get(zxName)!)[0] ?? 0, dims);
      // Output channel k of group g reads input channels g·(C/group)…: weight j is input channel g·(C/group) + ⌊j/taps⌋, tap j mod taps.
      mu = (k, j) => channelMean(Math.floor(k / perGroup) * (lw.inner / taps) + Math.floor(j / taps), j % taps);
    }
    const out = { w: Float64Array.from(lw.w), s: Float64Array.from(lw.s), ...(bias ? { b: Float64Array.from(bias) } : {}) };
    try {
      report.channels += requantizeNode(lw, out, bias, mu);
    } catch (e) {
      throw new UnsupportedQuantizedGraph(`${where}: ${(e as Error).message}`);
    }
    report.nodes++;
    if (mu) report.biasCorrected++;
    replaced.set(wName, int8Tensor(wName, wT.dims ?? [], out.w));
    replaced.set(sName, floatTensor(sName, sT.dims ?? [], out.s));
    if (bT && out.b) replaced.set(bName, int32Tensor(bName, bT.dims ?? [], out.b));
  }
  return {
    model: { ...model, graph: { ...graph, initializer: (graph.initializer ?? []).map((t) => replaced.get(t.name ?? '') ?? t) } },
    report,
  };
}
