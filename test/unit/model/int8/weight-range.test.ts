import { expect } from 'chai';
import { buildModel, floatValueInfo, node } from '../../../../tools/onnx/builder.js';
import { reduceWeightRange } from '../../../../tools/onnx/reduce-range.js';
import { floatTensor, int8Tensor, tensorNumbers, uint8Tensor } from '../../../../src/model/onnx/tensor.js';
import type { ModelProto, TensorProto } from '../../../../src/model/onnx/types.js';
import { int8WeightsCannotSaturate } from '../../../../src/model/int8/weight-range.js';
import { seededRandom } from '../../../../tools/training/random.js';
import { conv3x3Accumulators, saturatingConv3x3Accumulators, type Conv3x3 } from '../../../fixtures/quantized-reference.js';
import { saturatingInput, signedWeightsFixture } from '../../../fixtures/signed-weights-model.js';

const [C, M, HW] = [8, 4, 4];
const initializer = (model: ModelProto, name: string): TensorProto => model.graph!.initializer!.find((t) => t.name === name)!;

/** The fixture's convolution as the reference functions take it, with symmetric weights. */
function conv(model: ModelProto, xq: Uint8Array): Conv3x3 {
  return { xq, zx: 3, w: tensorNumbers(initializer(model, 'w')), zw: 0, bias: tensorNumbers(initializer(model, 'b')), channels: C, outChannels: M, size: HW };
}

/** The fixture with symmetric matmul weights too (the tool re-quantises symmetric weights only, as the Zoo's are). */
function symmetricFixture(seed: number): ModelProto {
  const { model } = signedWeightsFixture(seed, 0);
  model.graph!.initializer = model.graph!.initializer!.map((t) => (t.name === 'zm' ? int8Tensor('zm', [3], [0, 0, 0]) : t));
  return model;
}

/** Weight positions in three reduction orders: channels inner (NHWC, as MLAS packs them), taps inner, shuffled. */
const orders: Record<string, number[]> = {
  'channels inner': Array.from({ length: 9 }, (_, tap) => Array.from({ length: C }, (_, c) => c * 9 + tap)).flat(),
  'taps inner': Array.from({ length: C * 9 }, (_, p) => p),
  shuffled: (() => {
    const rnd = seededRandom(5);
    return Array.from({ length: C * 9 }, (_, p) => p).sort(() => rnd() - 0.5);
  })(),
};

describe('model/int8/weight-range: weights that cannot saturate a u8s8 kernel', () => {
  // A CPU without VNNI is not at hand: its kernel's arithmetic is emulated (VPMADDUBSW's
  // saturating pair sums) and compared with exact integer arithmetic.
  it("the emulated non-VNNI kernel goes wrong with the full-range weights (the Zoo's case)", () => {
    const { model } = signedWeightsFixture(1, 0);
    const xq = saturatingInput(101);
    expect(int8WeightsCannotSaturate(model)).to.equal(false);
    for (const order of Object.values(orders)) {
      expect(saturatingConv3x3Accumulators(conv(model, xq), order)).not.to.deep.equal(conv3x3Accumulators(conv(model, xq)));
    }
  });

  for (const seed of [1, 2, 3]) {
    it(`is exact with the weights re-quantised to 7 bits, for inputs at 255 and any pairing (seed ${seed})`, () => {
      const { model: reduced } = reduceWeightRange(symmetricFixture(seed));
      expect(int8WeightsCannotSaturate(reduced)).to.equal(true);
      for (const xq of [new Uint8Array(C * HW * HW).fill(255), saturatingInput(seed + 100), new Uint8Array(C * HW * HW)]) {
        for (const [name, order] of Object.entries(orders)) {
          expect(saturatingConv3x3Accumulators(conv(reduced, xq), order), name).to.deep.equal(conv3x3Accumulators(conv(reduced, xq)));
        }
      }
    });
  }

  /** A one-node QLinearMatMul with these weights and weight zero points. */
  function matmul(weights: number[], zeroPoints: number[], activationZeroPoint: TensorProto = uint8Tensor('zx', [], [0])): ModelProto {
    const n = zeroPoints.length;
    return buildModel({
      name: 'mm',
      input: [floatValueInfo('x', [1, weights.length / n])],
      output: [floatValueInfo('y', [1, n])],
      initializer: [
        floatTensor('sx', [], [0.1]), activationZeroPoint, int8Tensor('w', [weights.length / n, n], weights),
        floatTensor('sw', [n], new Array<number>(n).fill(0.1)), int8Tensor('zw', [n], zeroPoints), floatTensor('sy', [], [1]), uint8Tensor('zy', [], [0]),
      ],
      node: [node('QLinearMatMul', ['x', 'sx', 'zx', 'w', 'sw', 'zw', 'sy', 'zy'], ['y'])],
    });
  }

  it('holds at ±64 and fails beyond, on the stored and on the centred weights', () => {
    expect(int8WeightsCannotSaturate(matmul([64, -64, 0, 5], [0, 0]))).to.equal(true);
    expect(int8WeightsCannotSaturate(matmul([65, -64, 0, 5], [0, 0]))).to.equal(false);
    expect(int8WeightsCannotSaturate(matmul([64, -65, 0, 5], [0, 0]))).to.equal(false);
    // Column 1's zero point: w − zw = −64 − 1 = −65.
    expect(int8WeightsCannotSaturate(matmul([64, -64, 0, 5], [0, 1]))).to.equal(false);
    expect(int8WeightsCannotSaturate(matmul([64, -63, 0, 5], [0, 1]))).to.equal(true);
  });

  it('proves nothing for int8 activations, uint8 weights or a model without int8 weights', () => {
    expect(int8WeightsCannotSaturate(matmul([1, 2, 3, 4], [0, 0], int8Tensor('zx', [], [0])))).to.equal(false);
    const unsignedWeights = matmul([1, 2, 3, 4], [0, 0]);
    unsignedWeights.graph!.initializer = unsignedWeights.graph!.initializer!.map((t) =>
      t.name === 'w' ? uint8Tensor('w', t.dims!, [1, 2, 3, 4]) : t.name === 'zw' ? uint8Tensor('zw', [2], [0, 0]) : t,
    );
    expect(int8WeightsCannotSaturate(unsignedWeights)).to.equal(false);
    const float = buildModel({ name: 'f', input: [floatValueInfo('x', [1, 2])], output: [floatValueInfo('y', [1, 2])], initializer: [floatTensor('w', [2, 2], [1, 2, 3, 4])], node: [node('MatMul', ['x', 'w'], ['y'])] });
    expect(int8WeightsCannotSaturate(float)).to.equal(false);
  });
});
