/**
 * A static proof, read from the graph, that onnxruntime's u8s8 kernels compute exact integer sums
 * for a model on every CPU, including x86 CPUs without VNNI.
 *
 * Those CPUs multiply uint8 activations by int8 weights with `VPMADDUBSW`, which adds adjacent
 * products into a saturating int16 (kernels.ts). The kernels multiply the stored values (zero
 * points are applied to separate sums), so with every weight within ±64 a pair is at most
 * 255·64 + 255·64 = 32,640 ≤ 32,767 in magnitude, whatever the activations and however a kernel
 * pairs the products: no sum saturates. Weights re-quantised to 7 bits
 * (tools/onnx/reduce-range.ts; onnxruntime's `reduce_range=True`) meet the bound; the Zoo's
 * full-range int8 weights (up to ±127) do not. The bound is checked on `w − zw` too, so that it
 * holds for a kernel that would centre the weights first.
 */
import type { ModelProto, TensorProto } from '../onnx/types.js';
import { DataType } from '../onnx/types.js';
import { tensorNumbers } from '../onnx/tensor.js';
import { LINEAR_OPERATORS } from './unsigned-weights.js';

/** Largest |w| with which no pair of uint8 × int8 products leaves int16 (255·64·2 = 32,640). */
const MAX_EXACT_INT8_WEIGHT = 64;

const WEIGHT = 3;
const WEIGHT_ZERO_POINT = 5;
const ACTIVATION_ZERO_POINT = 2;

/** Whether every stored weight and every centred weight `w − zw` is within ±64 (zero points per tensor or per channel). */
function withinBound(w: TensorProto, zw: TensorProto | undefined, axisLength: number, channelOf: (i: number) => number): boolean {
  const values = tensorNumbers(w);
  const zeros = zw ? tensorNumbers(zw) : new Float64Array(1);
  if (zeros.length !== 1 && zeros.length !== axisLength) return false;
  for (let i = 0; i < values.length; i++) {
    const z = zeros.length === 1 ? zeros[0]! : zeros[channelOf(i)]!;
    if (Math.abs(values[i]!) > MAX_EXACT_INT8_WEIGHT || Math.abs(values[i]! - z) > MAX_EXACT_INT8_WEIGHT) return false;
  }
  return true;
}

/**
 * Whether the model has int8 QLinearConv / QLinearMatMul weights and every one of them provably
 * cannot saturate a u8s8 kernel (see the module comment): weights are initialisers within ±64,
 * activations uint8. False when there is nothing to prove (no int8 weights) or anything is not
 * as required.
 */
export function int8WeightsCannotSaturate(model: ModelProto): boolean {
  const graph = model.graph ?? {};
  const inits = new Map((graph.initializer ?? []).map((t) => [t.name ?? '', t]));
  let signed = 0;
  for (const n of graph.node ?? []) {
    if (!LINEAR_OPERATORS.includes(n.opType ?? '')) continue;
    const w = inits.get(n.input?.[WEIGHT] ?? '');
    const zw = inits.get(n.input?.[WEIGHT_ZERO_POINT] ?? '');
    // No zero point, or a uint8 one: uint8 weights, the u8u8 kernels, exact already.
    if (zw?.dataType !== DataType.INT8) continue;
    signed++;
    const zx = inits.get(n.input?.[ACTIVATION_ZERO_POINT] ?? '');
    if (!w || w.dataType !== DataType.INT8 || (zx && zx.dataType !== DataType.UINT8)) return false;
    const dims = w.dims ?? [];
    // Per-channel zero points run along the output channels: conv axis 0, matmul's last axis.
    const conv = n.opType === 'QLinearConv';
    const axisLength = (conv ? dims[0] : dims[dims.length - 1]) ?? 1;
    const inner = dims.slice(1).reduce((a, b) => a * b, 1);
    if (!withinBound(w, zw, axisLength, conv ? (i) => Math.floor(i / inner) : (i) => i % axisLength)) return false;
  }
  return signed > 0;
}
