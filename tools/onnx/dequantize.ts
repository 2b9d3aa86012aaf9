/**
 * Converts an int8 "QOperator" ONNX graph (as onnxruntime's quantiser writes it) into a float32
 * graph with the same weights, so that its answers no longer depend on the CPU's int8 kernels
 * (onnxruntime's u8s8 kernels saturate on AVX2 CPUs without VNNI: docs/model.md).
 *
 * Two forms, chosen by {@link DequantizeOptions.representation}:
 *
 * - `real`: every activation holds its real value `s·(q − zp)`. Each quantised operator becomes
 *   its float operator (weights `sw·(w − zw)`, bias `sx·sw·b`) followed by a `Clip` to the real
 *   range of its quantised output, `[s·(qmin − zp), s·(qmax − zp)]`, which keeps saturation and
 *   the ReLU/ReLU6 folded into that range. Only the rounding to the 8-bit grid is dropped.
 * - `steps` (exact): every activation holds `q − zp` as an integer-valued float. Convolutions and
 *   matrix products run on integer-valued weights `w − zw` and int32 biases, so their sums are
 *   exact integers in float32 (for |sum| < 2^24, whatever the kernel's summation order), then are
 *   requantised as integer kernels do: `Clip(Round(acc · sx·sw/sy), qmin − zp, qmax − zp)`. This
 *   reproduces exact integer arithmetic, on any CPU, with three element-wise ops more per layer.
 *
 * | quantised | float |
 * |---|---|
 * | QuantizeLinear | `real`: Clip; `steps`: Div, Round, Clip |
 * | DequantizeLinear | `real`: Identity; `steps`: Mul by the scale (constants are folded) |
 * | QLinearConv, QLinearMatMul | Conv, MatMul, then requantisation |
 * | QLinearAdd, QLinearMul (com.microsoft) | Add, Mul, then requantisation |
 * | QLinearGlobalAveragePool (com.microsoft, NCHW) | GlobalAveragePool, then requantisation |
 * | other operators (Shape, Reshape, Concat of shapes…) | unchanged |
 */
import type { GraphProto, ModelProto, NodeProto, TensorProto } from '../../src/model/onnx/types.js';
import type { Representation, Rewrite } from './dequantize-ops.js';
import { UnsupportedQuantizedGraph } from '../../src/model/onnx/errors.js';
import { dequantizeLinear, elementwise, globalAveragePool, linear, quantizeLinear } from './dequantize-ops.js';

/** Options of {@link dequantizeModel}. */
export interface DequantizeOptions {
  /** `real` (plain float graph with Clips) or `steps` (exact integer arithmetic). Default `steps`. */
  readonly representation?: Representation;
}

const QUANTISED_OP = /^(Q[A-Z]|QLinear|DynamicQuantize|MatMulInteger|ConvInteger|DequantizeLinear|QuantizeLinear)/;

function convert(rw: Rewrite, n: NodeProto): void {
  const where = `${n.opType ?? '?'} ${n.name ?? n.output?.[0] ?? ''}`;
  switch (n.opType) {
    case 'QuantizeLinear':
      return quantizeLinear(rw, n);
    case 'DequantizeLinear':
      return dequantizeLinear(rw, n);
    case 'QLinearConv':
      return linear(rw, n, 'Conv', 0, (k) => [1, k, 1, 1]);
    case 'QLinearMatMul':
      return linear(rw, n, 'MatMul', -1, (k) => [k]);
    case 'QLinearAdd':
      return elementwise(rw, n, 'Add');
    case 'QLinearMul':
      return elementwise(rw, n, 'Mul');
    case 'QLinearGlobalAveragePool':
      if ((n.attribute ?? []).some((a) => a.name === 'channels_last' && (a.i ?? 0) !== 0)) {
        throw new UnsupportedQuantizedGraph(`${where}: channels_last = 1 is not supported`);
      }
      return globalAveragePool(rw, n);
    default:
      if (QUANTISED_OP.test(n.opType ?? '')) {
        throw new UnsupportedQuantizedGraph(`${where}: quantised operator ${n.opType ?? '?'} is not supported`);
      }
      rw.nodes.push(n);
  }
}

/** Keeps only the initialisers some node or output still reads. */
function usedInitializers(graph: GraphProto, candidates: readonly TensorProto[]): TensorProto[] {
  const used = new Set<string>();
  for (const n of graph.node ?? []) for (const i of n.input ?? []) used.add(i);
  for (const o of graph.output ?? []) used.add(o.name ?? '');
  return candidates.filter((t) => used.has(t.name ?? ''));
}

/**
 * Returns the float32 equivalent of a QOperator model (see the module comment); the input model
 * is not modified. Opset imports of domains no node uses any more are dropped.
 * @throws {UnsupportedQuantizedGraph} for quantised operators it does not know.
 */
export function dequantizeModel(model: ModelProto, options: DequantizeOptions = {}): ModelProto {
  const graph = model.graph ?? {};
  const initializers = graph.initializer ?? [];
  const rw: Rewrite = {
    inits: new Map(initializers.map((t) => [t.name ?? '', t])),
    nodes: [],
    added: [],
    representation: options.representation ?? 'steps',
  };
  for (const n of graph.node ?? []) convert(rw, n);
  const floatGraph: GraphProto = { ...graph, node: rw.nodes, valueInfo: [] };
  floatGraph.initializer = usedInitializers(floatGraph, [...initializers, ...rw.added]);
  const domains = new Set(['', ...rw.nodes.map((n) => n.domain ?? '')]);
  return {
    ...model,
    opsetImport: (model.opsetImport ?? []).filter((o) => domains.has(o.domain ?? '')),
    producerName: 'catdog-classifier dequantize',
    graph: floatGraph,
  };
}
