/**
 * Composes the served model: backbone features (the int8 backbone, as int8 or as its exact
 * integer arithmetic in float32, see {@link BackboneArithmetic}) →
 * trained head (standardisation folded into one MatMul + Add) → Softmax, one ONNX graph whose
 * output `probabilities` [N, labels] is in the head's label order.
 */
import type { ModelProto } from '../../src/model/onnx/types.js';
import { floatValueInfo, node } from '../onnx/builder.js';
import { floatTensor } from '../../src/model/onnx/tensor.js';
import type { BackboneArithmetic } from './backbone.js';
import { FEATURES_OUTPUT, buildFeatureExtractor } from './backbone.js';
import type { HeadFile } from './head-file.js';

/** Name of the composed model's output. */
export const PROBABILITIES_OUTPUT = 'probabilities';

/**
 * Folds `(x − mean) / std` into the head: `W'[j][c] = W[c][j] / std[j]` (features × labels,
 * as MatMul wants it) and `b'[c] = b[c] − Σ_j W[c][j]·mean[j]/std[j]`.
 */
function foldStandardization(head: HeadFile): { weights: Float32Array; bias: Float32Array } {
  const k = head.labels.length;
  const d = head.backbone.features;
  const weights = new Float32Array(d * k);
  const bias = new Float32Array(k);
  for (let c = 0; c < k; c++) {
    let shift = 0;
    for (let j = 0; j < d; j++) {
      const w = head.weights[c]![j]! / head.std[j]!;
      weights[j * k + c] = w;
      shift += w * head.mean[j]!;
    }
    bias[c] = head.bias[c]! - shift;
  }
  return { weights, bias };
}

/**
 * Builds the composed classifier from the quantised backbone model and a head file; the backbone
 * runs as `arithmetic` says (both forms gave the features the head was trained on bit for bit,
 * on the 85 development images).
 */
export function composeClassifier(quantizedBackbone: ModelProto, head: HeadFile, arithmetic: BackboneArithmetic = 'float-steps'): ModelProto {
  const extractor = buildFeatureExtractor(quantizedBackbone, arithmetic);
  const form = arithmetic === 'int8' ? 'int8' : 'int8 arithmetic reproduced in float32';
  const graph = extractor.graph ?? {};
  const k = head.labels.length;
  const { weights, bias } = foldStandardization(head);
  const batch = graph.input?.[0]?.type?.tensorType?.shape?.dim?.[0]?.dimParam ?? 'N';
  return {
    ...extractor,
    producerName: 'catdog-classifier compose',
    docString: `Backbone ${head.backbone.file} (sha256 ${head.backbone.sha256}, ${form}) + logistic-regression head over ${head.labels.join(', ')}`,
    metadataProps: [{ key: 'labels', value: JSON.stringify(head.labels) }],
    graph: {
      ...graph,
      name: 'catdog_classifier',
      initializer: [...(graph.initializer ?? []), floatTensor('head_weights', [head.backbone.features, k], weights), floatTensor('head_bias', [k], bias)],
      node: [
        ...(graph.node ?? []),
        node('MatMul', [FEATURES_OUTPUT, 'head_weights'], ['head_matmul'], {}, 'head_matmul'),
        node('Add', ['head_matmul', 'head_bias'], ['head_logits'], {}, 'head_bias_add'),
        node('Softmax', ['head_logits'], [PROBABILITIES_OUTPUT], { axis: 1 }, 'head_softmax'),
      ],
      output: [floatValueInfo(PROBABILITIES_OUTPUT, [batch, k])],
    },
  };
}
