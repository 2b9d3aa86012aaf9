import { expect } from 'chai';
import { buildModel, node, tensorValueInfo } from '../../../tools/onnx/builder.js';
import { encodeModel } from '../../../src/model/onnx/codec.js';
import { UnsupportedQuantizedGraph } from '../../../src/model/onnx/errors.js';
import { floatTensor, int32Tensor, int8Tensor, tensorNumbers, uint8Tensor } from '../../../src/model/onnx/tensor.js';
import type { ModelProto, TensorProto } from '../../../src/model/onnx/types.js';
import { DataType } from '../../../src/model/onnx/types.js';
import { MAX_7BIT_WEIGHT, reduceWeightRange, requantizeChannel, type InputMeans } from '../../../tools/onnx/reduce-range.js';
import { seededRandom } from '../../../tools/training/random.js';
import { conv3x3Accumulators } from '../../fixtures/quantized-reference.js';

const [C, M, HW] = [4, 3, 5];
const sx = 0.02;
const zx = 3;
const sw = [0.01, 0.02, 0.004];

/** uint8 xq [1,C,HW,HW] → QLinearConv 3×3 pad 1, full-range symmetric int8 weights per channel, int32 bias. */
function convModel(seed: number, weights?: number[]): ModelProto {
  const rnd = seededRandom(seed);
  const w = weights ?? Array.from({ length: M * C * 9 }, () => (rnd() < 0.2 ? -128 : Math.floor(rnd() * 255) - 127));
  return buildModel({
    name: 'conv',
    input: [tensorValueInfo('xq', DataType.UINT8, [1, C, HW, HW])],
    output: [tensorValueInfo('yq', DataType.UINT8, [1, M, HW, HW])],
    initializer: [
      floatTensor('sx', [], [sx]), uint8Tensor('zx', [], [zx]),
      int8Tensor('w', [M, C, 3, 3], w), floatTensor('sw', [M], sw), int8Tensor('zw', [M], [0, 0, 0]),
      floatTensor('sy', [], [0.5]), uint8Tensor('zy', [], [128]), int32Tensor('b', [M], [1500, -700, 20000]),
    ],
    node: [node('QLinearConv', ['xq', 'sx', 'zx', 'w', 'sw', 'zw', 'sy', 'zy', 'b'], ['yq'], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] })],
  });
}

const values = (model: ModelProto, name: string): number[] => Array.from(tensorNumbers(model.graph!.initializer!.find((t: TensorProto) => t.name === name)!));

/** Each output channel's real pre-activation `sx·sw·acc`, averaged over the output positions, for input `xq`. */
function meanPreActivation(model: ModelProto, xq: Uint8Array): number[] {
  const scales = values(model, 'sw');
  const acc = conv3x3Accumulators({ xq, zx, w: values(model, 'w'), zw: 0, bias: values(model, 'b'), channels: C, outChannels: M, size: HW });
  return acc.map((row, m) => (sx * scales[m]! * row.reduce((a, b) => a + b, 0)) / row.length);
}

describe('tools/onnx/reduce-range: int8 weights re-quantised to 7 bits', () => {
  it('maps a channel onto ±64 with its scale × m/64, rounding half to even', () => {
    // m = 128: scale × 2, so odd weights are ties: 3/2 → 2, 5/2 → 2, −3/2 → −2, 1/2 → 0, 7/2 → 4.
    const { scale, weights } = requantizeChannel([-128, 3, 5, -3, 1, 7, 127], 0.25);
    expect(scale).to.equal(0.5);
    expect(Array.from(weights)).to.deep.equal([-64, 2, 2, -2, 0, 4, 64]);
    const fit = requantizeChannel([127, -50, 10], 0.01);
    expect(fit.scale).to.equal(Math.fround((0.01 * 127) / 64));
    expect(Array.from(fit.weights)).to.deep.equal([64, -25, 5]);
    expect(requantizeChannel([64, -64, 3], 0.01)).to.deep.equal({ scale: 0.01, weights: Float64Array.from([64, -64, 3]) });
  });

  it('leaves no weight beyond ±64, the input model untouched and the output the same for the same input', () => {
    const model = convModel(1);
    const before = encodeModel(model);
    const { model: reduced, report } = reduceWeightRange(model);
    expect(values(reduced, 'w').every((w) => Math.abs(w) <= MAX_7BIT_WEIGHT)).to.equal(true);
    expect(values(reduced, 'sw').map((s, m) => s / sw[m]!)).to.satisfy((r: number[]) => r.every((x) => x > 1.9 && x < 2.1));
    expect(report).to.deep.equal({ nodes: 1, channels: M, biasCorrected: 0 });
    expect(encodeModel(model)).to.deep.equal(before);
    expect(encodeModel(reduceWeightRange(convModel(1)).model)).to.deep.equal(encodeModel(reduced));
  });

  it('keeps a model whose weights are within ±64 as it is', () => {
    const small = convModel(2, Array.from({ length: M * C * 9 }, (_, i) => (i % 129) - 64));
    expect(encodeModel(reduceWeightRange(small).model)).to.deep.equal(encodeModel(small));
  });

  for (const seed of [3, 4, 5]) {
    it(`corrects each bias so that the mean pre-activation over the positions is unchanged, padding included (seed ${seed})`, () => {
      // A constant input equal to the channel means: the correction is then exact up to the
      // rounding of the new int32 bias (half a step of sx·sw′).
      const channelMeans = [10, 200, 3, 97];
      const means: InputMeans = { xq: { shape: [C, HW, HW], mean: channelMeans } };
      const xq = Uint8Array.from({ length: C * HW * HW }, (_, i) => channelMeans[Math.floor(i / (HW * HW))]!);
      const original = meanPreActivation(convModel(seed), xq);
      const corrected = reduceWeightRange(convModel(seed), means);
      expect(corrected.report.biasCorrected).to.equal(1);
      const plain = meanPreActivation(reduceWeightRange(convModel(seed)).model, xq);
      const fixed = meanPreActivation(corrected.model, xq);
      const step = values(corrected.model, 'sw').map((s) => sx * s);
      fixed.forEach((v, m) => expect(Math.abs(v - original[m]!), `channel ${m}`).to.be.at.most(step[m]! / 2 + 1e-9));
      // Without the correction the rounding errors shift the mean by more than that.
      expect(plain.some((v, m) => Math.abs(v - original[m]!) > step[m]!)).to.equal(true);
    });
  }

  it('refuses asymmetric weights and weights shared with another node', () => {
    const asymmetric = convModel(6);
    asymmetric.graph!.initializer = asymmetric.graph!.initializer!.map((t) => (t.name === 'zw' ? int8Tensor('zw', [M], [0, 1, 0]) : t));
    expect(() => reduceWeightRange(asymmetric)).to.throw(UnsupportedQuantizedGraph, /symmetric/);
    const shared = convModel(7);
    shared.graph!.node!.push(node('QLinearConv', ['xq', 'sx', 'zx', 'w', 'sw', 'zw', 'sy', 'zy', 'b'], ['yq2'], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }));
    expect(() => reduceWeightRange(shared)).to.throw(UnsupportedQuantizedGraph, /shared/);
  });
});
