/**
 * The ways of bringing the Zoo's int8 weights within ±64 that issue 23 compared
 * (`make model-report REPORT_ARGS=--schemes`): the first try (halve, round half away from zero),
 * halving with round half to even, the served scale m/64 without and with bias correction.
 */
import type { ModelProto, TensorProto } from '../src/model/onnx/types.js';
import { DataType } from '../src/model/onnx/types.js';
import { floatTensor, int32Tensor, int8Tensor, tensorNumbers } from '../src/model/onnx/tensor.js';
import { reduceWeightRange, type InputMeans } from './onnx/reduce-range.js';

/** Halves every int8 QLinearConv / QLinearMatMul weight (scale × 2, bias ÷ 2), rounding with `round`: the naive 7-bit form. */
function halved(model: ModelProto, round: (x: number) => number): ModelProto {
  const graph = model.graph ?? {};
  const inits = new Map((graph.initializer ?? []).map((t) => [t.name ?? '', t]));
  const replaced = new Map<string, TensorProto>();
  for (const n of graph.node ?? []) {
    if (n.opType !== 'QLinearConv' && n.opType !== 'QLinearMatMul') continue;
    const [, , , w = '', s = '', , , , b = ''] = n.input ?? [];
    const [wT, sT, bT] = [inits.get(w), inits.get(s), inits.get(b)];
    if (wT?.dataType !== DataType.INT8 || !sT) continue;
    replaced.set(w, int8Tensor(w, wT.dims ?? [], Array.from(tensorNumbers(wT), (v) => Math.max(-64, Math.min(64, round(v / 2))))));
    replaced.set(s, floatTensor(s, sT.dims ?? [], Array.from(tensorNumbers(sT), (v) => v * 2)));
    if (bT) replaced.set(b, int32Tensor(b, bT.dims ?? [], Array.from(tensorNumbers(bT), (v) => round(v / 2))));
  }
  return { ...model, graph: { ...graph, initializer: (graph.initializer ?? []).map((t) => replaced.get(t.name ?? '') ?? t) } };
}

const halfAwayFromZero = (x: number): number => Math.sign(x) * Math.round(Math.abs(x));
const halfToEven = (x: number): number => {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
};

/** Each scheme's name and the 7-bit model it makes from the Zoo's. */
export function schemes(zoo: ModelProto, means: InputMeans): { readonly name: string; readonly model: ModelProto }[] {
  return [
    { name: 'halve, round half away from zero (first try)', model: halved(zoo, halfAwayFromZero) },
    { name: 'halve, round half to even', model: halved(zoo, halfToEven) },
    { name: 'scale × m/64, half to even', model: reduceWeightRange(zoo).model },
    { name: 'scale × m/64, half to even, bias correction (served)', model: reduceWeightRange(zoo, means).model },
  ];
}

/** How close a 7-bit model stays to the Zoo's on some images, and how well it classifies. */
export interface SchemeFigures {
  /** Images whose ImageNet top-1 class is the Zoo's. */
  readonly top1Agreement: number;
  /** Mean KL divergence of its ImageNet probabilities from the Zoo's. */
  readonly kl: number;
}

const softmax = (row: Float32Array): Float64Array => {
  const max = Math.max(...row);
  const e = Float64Array.from(row, (v) => Math.exp(v - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
};
const argmax = (row: ArrayLike<number>): number => {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i]! > row[best]!) best = i;
  return best;
};

/** {@link SchemeFigures} of ImageNet logits `rows` against the Zoo's `reference` rows. */
export function closeness(reference: readonly Float32Array[], rows: readonly Float32Array[]): SchemeFigures {
  let agree = 0;
  let kl = 0;
  reference.forEach((ref, i) => {
    if (argmax(ref) === argmax(rows[i]!)) agree++;
    const [p, q] = [softmax(ref), softmax(rows[i]!)];
    for (let j = 0; j < p.length; j++) if (p[j]! > 0) kl += p[j]! * Math.log(p[j]! / Math.max(q[j]!, 1e-300));
  });
  return { top1Agreement: agree, kl: kl / reference.length };
}
