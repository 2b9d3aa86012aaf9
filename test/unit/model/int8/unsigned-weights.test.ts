import { expect } from 'chai';
import { buildModel, floatValueInfo, node } from '../../../../tools/onnx/builder.js';
import { UnsupportedQuantizedGraph } from '../../../../src/model/onnx/errors.js';
import { floatTensor, tensorNumbers } from '../../../../src/model/onnx/tensor.js';
import { DataType } from '../../../../src/model/onnx/types.js';
import { hasSignedWeights, unsignedWeightsModel } from '../../../../src/model/int8/unsigned-weights.js';
import { runQuantized as run, saturatingInput as input, signedWeightsFixture as fixture } from '../../../fixtures/signed-weights-model.js';

describe('model/int8 unsignedWeightsModel (exact int8 arithmetic on every CPU)', () => {
  it('re-types the weights and their zero points as uint8, shifted by 128', () => {
    const { model } = fixture(1, 0);
    const unsigned = unsignedWeightsModel(model);
    const inits = new Map(unsigned.graph!.initializer!.map((t) => [t.name, t]));
    expect(['w', 'zw', 'wm', 'zm'].map((n) => inits.get(n)!.dataType)).to.deep.equal(new Array(4).fill(DataType.UINT8));
    expect(Array.from(tensorNumbers(inits.get('zm')!))).to.deep.equal([128, 123, 137]);
    const before = tensorNumbers(model.graph!.initializer!.find((t) => t.name === 'w')!);
    expect(Array.from(tensorNumbers(inits.get('w')!))).to.deep.equal(Array.from(before, (v) => v + 128));
    expect(model.graph!.initializer!.find((t) => t.name === 'w')!.dataType).to.equal(DataType.INT8); // input untouched
  });

  for (const [seed, zeroPoint] of [[1, 0], [2, 0], [3, -3]] as const) {
    it(`gives exact integer arithmetic where u8s8 pair sums overflow int16 (seed ${seed}, conv zero point ${zeroPoint})`, async () => {
      const { model, reference } = fixture(seed, zeroPoint);
      const xq = input(seed + 100);
      expect(await run(unsignedWeightsModel(model), xq)).to.deep.equal(reference(xq));
    });
  }

  it('leaves uint8 weights and float graphs as they are', () => {
    const float = buildModel({
      name: 'float',
      input: [floatValueInfo('x', [1, 2])],
      output: [floatValueInfo('y', [1, 2])],
      initializer: [floatTensor('w', [2, 2], [1, 2, 3, 4])],
      node: [node('MatMul', ['x', 'w'], ['y'])],
    });
    expect(unsignedWeightsModel(float)).to.deep.equal(float);
    const once = unsignedWeightsModel(fixture(4, 0).model);
    expect(unsignedWeightsModel(once)).to.deep.equal(once);
    expect([hasSignedWeights(fixture(4, 0).model), hasSignedWeights(once), hasSignedWeights(float)]).to.deep.equal([true, false, false]);
  });

  it('refuses a weight that another node also reads', () => {
    const { model } = fixture(5, 0);
    model.graph!.node!.push(node('DequantizeLinear', ['zw', 'sw', 'zw'], ['zw_real'], { axis: 0 }));
    expect(() => unsignedWeightsModel(model)).to.throw(UnsupportedQuantizedGraph, /zw/);
  });
});
