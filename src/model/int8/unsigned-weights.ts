/**
 * Re-types the signed 8-bit weights of an int8 "QOperator" graph as unsigned, so that
 * onnxruntime runs its exact u8u8 integer kernels instead of its u8s8 ones, and the graph gives
 * the same answers on every x86 CPU while staying an int8 graph (about twice as fast as the exact
 * float32 form written by {@link dequantizeModel}, one thread).
 *
 * Why: with uint8 activations and int8 weights, onnxruntime's MLAS uses `VPMADDUBSW`
 * (u8 × s8, adjacent pairs summed into a *saturating* int16) on AVX2 CPUs without VNNI;
 * full-range int8 weights overflow that int16 (255·127·2 > 32767), so results differ from exact
 * integer arithmetic and from VNNI/AMX CPUs (docs/model.md). With uint8 weights,
 * MLAS's U8U8 kernels widen both operands to 16 bits before `VPMADDWD` (int16 × int16 summed
 * into int32), which cannot overflow: every x86 kernel computes the same exact int32 sums.
 *
 * How: ONNX linear quantisation is `real = s·(q − zp)`, so adding 128 to every weight and to its
 * zero point changes nothing in `Σ (x − zx)(w − zw)`: `w + 128 ∈ [0, 255]` and `zw + 128 ∈ [0, 255]`
 * are uint8 values (per-tensor or per-channel zero points alike). Only QLinearConv and
 * QLinearMatMul weights (input 3, zero point input 5) are rewritten; everything else is kept.
 *
 * Limit: the other quantised operators (QLinearAdd, QLinearGlobalAveragePool) and the
 * requantisations still round in onnxruntime's own float32 order (QLinearAdd: one FMA kernel on
 * AVX2 and later), not by construction as the `steps` form does; on MobileNetV2-12-int8 and the
 * 85 development images the features equal the `steps` form's bit for bit.
 */
import type { GraphProto, ModelProto, NodeProto, TensorProto } from '../onnx/types.js';
import { DataType } from '../onnx/types.js';
import { UnsupportedQuantizedGraph } from '../onnx/errors.js';
import { tensorValues, uint8Tensor } from '../onnx/tensor.js';

const WEIGHT = 3;
const WEIGHT_ZERO_POINT = 5;
const ACTIVATION_ZERO_POINT = 2;

/** The operators whose int8 weights are re-typed. */
export const LINEAR_OPERATORS: readonly string[] = ['QLinearConv', 'QLinearMatMul'];

const isLinear = (n: NodeProto): boolean => LINEAR_OPERATORS.includes(n.opType ?? '');

/** The int8 tensor shifted into uint8 by +128 (same name and dims). */
function shifted(t: TensorProto): TensorProto {
  const values = tensorValues(t);
  return uint8Tensor(t.name ?? '', t.dims ?? [], Uint8Array.from(values as Int8Array, (v) => v + 128));
}

/** The int8 weight zero point of a QLinearConv / QLinearMatMul node, if it has one. */
function int8WeightZeroPoint(n: NodeProto, inits: ReadonlyMap<string, TensorProto>): TensorProto | undefined {
  const zw = inits.get(n.input?.[WEIGHT_ZERO_POINT] ?? '');
  // No weight zero point means uint8 with zero point 0: already the u8u8 path.
  return zw?.dataType === DataType.INT8 ? zw : undefined;
}

/** Whether the model has int8 QLinearConv or QLinearMatMul weights that {@link unsignedWeightsModel} would re-type. */
export function hasSignedWeights(model: ModelProto): boolean {
  const graph = model.graph ?? {};
  const inits = new Map((graph.initializer ?? []).map((t) => [t.name ?? '', t]));
  return (graph.node ?? []).some((n) => isLinear(n) && int8WeightZeroPoint(n, inits) !== undefined);
}

/** Names of the int8 weights and weight zero points to shift, checked to be read nowhere else. */
function signedWeights(graph: GraphProto, inits: ReadonlyMap<string, TensorProto>): Set<string> {
  const names = new Set<string>();
  for (const n of (graph.node ?? []).filter(isLinear)) {
    const where = `${n.opType ?? '?'} ${n.name ?? n.output?.[0] ?? ''}`;
    const zw = int8WeightZeroPoint(n, inits);
    if (!zw) continue;
    const w = inits.get(n.input?.[WEIGHT] ?? '');
    if (!w || w.dataType !== DataType.INT8) throw new UnsupportedQuantizedGraph(`${where}: int8 weights must be an int8 initializer`);
    const zx = inits.get(n.input?.[ACTIVATION_ZERO_POINT] ?? '');
    if (zx && zx.dataType !== DataType.UINT8) throw new UnsupportedQuantizedGraph(`${where}: only uint8 activations are supported`);
    names.add(w.name ?? '').add(zw.name ?? '');
  }
  // A shared tensor read as anything but a weight would change meaning: refuse rather than copy.
  for (const n of graph.node ?? []) {
    (n.input ?? []).forEach((input, i) => {
      if (names.has(input) && !(isLinear(n) && (i === WEIGHT || i === WEIGHT_ZERO_POINT))) {
        throw new UnsupportedQuantizedGraph(`${n.opType ?? '?'} ${n.name ?? ''}: reads weight ${input} as input ${i}`);
      }
    });
  }
  return names;
}

/**
 * Returns the model with every int8 weight (and its zero point) of QLinearConv and QLinearMatMul
 * converted to uint8 by adding 128 (see the module comment); the input model is not modified.
 * The arithmetic is unchanged: outputs equal exact integer arithmetic on every x86 CPU.
 * @throws {UnsupportedQuantizedGraph} for int8 weights that are not initialisers, int8
 *   activations, or a weight tensor that another input also reads.
 */
export function unsignedWeightsModel(model: ModelProto): ModelProto {
  const graph = model.graph ?? {};
  const inits = new Map((graph.initializer ?? []).map((t) => [t.name ?? '', t]));
  const names = signedWeights(graph, inits);
  return {
    ...model,
    graph: { ...graph, initializer: (graph.initializer ?? []).map((t) => (names.has(t.name ?? '') ? shifted(t) : t)) },
  };
}
