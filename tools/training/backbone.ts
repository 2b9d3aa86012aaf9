/**
 * The feature extractor: the int8 ImageNet backbone cut at its global average pool (the pooled
 * layer before ImageNet's classifier), as the exact float32 form (`float-steps`, the same features
 * on every CPU; what training uses) or as the int8 graph itself (`int8`, what is served: the
 * classifier hands its weights to onnxruntime so that it computes the same exact integer
 * arithmetic, see src/model/int8/kernels.ts). Output `features`, float32 [N, C] (C = 1280 for
 * MobileNetV2).
 */
import type { Manifest } from '../../src/model/manifest.js';
import type { GraphProto, ModelProto, NodeProto } from '../../src/model/onnx/types.js';
import { floatValueInfo, node } from '../onnx/builder.js';
import { dequantizeModel } from '../onnx/dequantize.js';

/**
 * Input contract of the MobileNetV2 backbone (ONNX Model Zoo): `input`, NCHW 224×224 RGB,
 * pixels scaled to 0..1 then ImageNet-normalised. `resize` is chosen at training time.
 */
export const MOBILENETV2_INPUT: Omit<Manifest['input'], 'resize'> = Object.freeze({
  name: 'input',
  layout: 'NCHW',
  width: 224,
  height: 224,
  channels: 'RGB',
  scale: 1 / 255,
  mean: [0.485, 0.456, 0.406] as const,
  std: [0.229, 0.224, 0.225] as const,
});

/**
 * The served backbone's file, written by `make model` beside the Zoo's: its int8 weights
 * re-quantised to 7 bits (tools/onnx/reduce-range.ts), what `make train` extracts features from.
 */
export const BACKBONE_7BIT_FILE = 'mobilenetv2-12-7bit.onnx';

/** Name of the feature output of {@link buildFeatureExtractor}. */
export const FEATURES_OUTPUT = 'features';

/**
 * How the extractor computes the backbone's integer arithmetic: `float-steps`
 * ({@link dequantizeModel}, `steps`: float32 ops on integer values, exact on any CPU) or `int8`
 * (the quantised operators kept: several times faster, exact where the int8 kernels are, which
 * src/model/int8/kernels.ts ensures when serving).
 */
export type BackboneArithmetic = 'float-steps' | 'int8';

/** Keeps the nodes needed to compute `outputs`, in their original (topological) order. */
function ancestors(nodes: readonly NodeProto[], outputs: readonly string[]): NodeProto[] {
  const needed = new Set(outputs);
  const keep = new Set<NodeProto>();
  for (let i = nodes.length - 1; i >= 0; i--) {
    const n = nodes[i]!;
    if ((n.output ?? []).some((o) => needed.has(o))) {
      keep.add(n);
      for (const input of n.input ?? []) needed.add(input);
    }
  }
  return nodes.filter((n) => keep.has(n));
}

/** Number of channels of the pooled tensor, read from the producing convolution's weights. */
function pooledChannels(graph: GraphProto, pooledInput: string): number | string {
  const producer = graph.node?.find((n) => n.output?.includes(pooledInput));
  const weight = graph.initializer?.find((t) => t.name === producer?.input?.[3]);
  return producer?.opType === 'QLinearConv' && weight?.dims?.[0] !== undefined ? weight.dims[0] : 'channels';
}

/**
 * Cuts a QOperator ImageNet model at its (single) QLinearGlobalAveragePool, dequantises the
 * pooled value, flattens it to [N, C] as output {@link FEATURES_OUTPUT}, and converts the
 * result as `arithmetic` says (default `float-steps`, the form the committed head was trained on;
 * on the 85 development images both forms give bit-identical features).
 */
export function buildFeatureExtractor(quantized: ModelProto, arithmetic: BackboneArithmetic = 'float-steps'): ModelProto {
  const graph = quantized.graph ?? {};
  const pools = (graph.node ?? []).filter((n) => n.opType === 'QLinearGlobalAveragePool');
  if (pools.length !== 1) throw new TypeError(`backbone: expected one QLinearGlobalAveragePool, found ${pools.length}`);
  const pool = pools[0]!;
  const [pooledInput, , , scale, zeroPoint] = pool.input ?? [];
  const pooled = pool.output?.[0] ?? '';
  const nodes = [
    ...ancestors(graph.node ?? [], [pooled]),
    node('DequantizeLinear', [pooled, scale ?? '', zeroPoint ?? ''], ['pooled_real'], {}, 'features_dequantize'),
    node('Flatten', ['pooled_real'], [FEATURES_OUTPUT], { axis: 1 }, 'features_flatten'),
  ];
  const batch = graph.input?.[0]?.type?.tensorType?.shape?.dim?.[0]?.dimParam ?? 'N';
  // ImageNet's classifier weights are no longer read (onnxruntime would warn about each).
  const read = new Set(nodes.flatMap((n) => n.input ?? []));
  const cut: ModelProto = {
    ...quantized,
    graph: {
      ...graph,
      name: `${graph.name ?? 'backbone'}_features`,
      node: nodes,
      initializer: (graph.initializer ?? []).filter((t) => read.has(t.name ?? '')),
      output: [floatValueInfo(FEATURES_OUTPUT, [batch, pooledChannels(graph, pooledInput ?? '')])],
      valueInfo: [],
    },
  };
  return arithmetic === 'int8' ? cut : dequantizeModel(cut, { representation: 'steps' });
}
