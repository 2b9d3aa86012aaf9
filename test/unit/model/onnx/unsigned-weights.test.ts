import { expect } from 'chai';
import * as ort from 'onnxruntime-node';
import { buildModel, floatValueInfo, node, tensorValueInfo } from '../../../../src/model/onnx/builder.js';
import { encodeModel } from '../../../../src/model/onnx/codec.js';
import { UnsupportedQuantizedGraph } from '../../../../src/model/onnx/dequantize.js';
import { floatTensor, int32Tensor, int8Tensor, tensorNumbers, uint8Tensor } from '../../../../src/model/onnx/tensor.js';
import type { ModelProto } from '../../../../src/model/onnx/types.js';
import { DataType } from '../../../../src/model/onnx/types.js';
import { unsignedWeightsModel } from '../../../../src/model/onnx/unsigned-weights.js';
import { seededRandom as random } from '../../../../src/training/random.js';
import { conv3x3Accumulators, roundHalfEven as rhe } from '../../../fixtures/quantized-reference.js';

const clampU8 = (v: number): number => Math.min(255, Math.max(0, v));

// uint8 input xq [1,C,H,W] → QLinearConv 3×3 pad 1 (int8 weights, per-channel scales, one zero
// point per channel, int32 bias) → Flatten → QLinearMatMul (int8, per-column scales and zero
// points) → uint8 output, so outputs compare as integers. Full-range weights next to inputs of
// 255 are the case onnxruntime's u8s8 kernels saturate on AVX2 CPUs without VNNI.
const [C, M, HW, K] = [8, 4, 4, 3];
const s = { x: 0.02, zx: 3, y: 2, zy: 7, wConv: [0.01, 0.02, 0.015, 0.012], wMat: [0.004, 0.003, 0.005], o: 5, zo: 100 };

function fixture(seed: number, convZeroPoint: number): { model: ModelProto; reference: (xq: Uint8Array) => number[] } {
  const rnd = random(seed);
  const full = (): number => (rnd() < 0.5 ? (rnd() < 0.5 ? -128 : 127) : Math.floor(rnd() * 256) - 128);
  const w = Array.from({ length: M * C * 9 }, full);
  const bias = Array.from({ length: M }, () => Math.floor(rnd() * 20000) - 10000);
  const wm = Array.from({ length: M * HW * HW * K }, full);
  const zm = [0, -5, 9];
  const model = buildModel(
    {
      name: 'signed_weights',
      input: [tensorValueInfo('xq', DataType.UINT8, [1, C, HW, HW])],
      output: [tensorValueInfo('oq', DataType.UINT8, [1, K])],
      initializer: [
        floatTensor('sx', [], [s.x]), uint8Tensor('zx', [], [s.zx]),
        int8Tensor('w', [M, C, 3, 3], w), floatTensor('sw', [M], s.wConv), int8Tensor('zw', [M], new Array<number>(M).fill(convZeroPoint)),
        int32Tensor('b', [M], bias), floatTensor('sy', [], [s.y]), uint8Tensor('zy', [], [s.zy]),
        int8Tensor('wm', [M * HW * HW, K], wm), floatTensor('sm', [K], s.wMat), int8Tensor('zm', [K], zm),
        floatTensor('so', [], [s.o]), uint8Tensor('zo', [], [s.zo]),
      ],
      node: [
        node('QLinearConv', ['xq', 'sx', 'zx', 'w', 'sw', 'zw', 'sy', 'zy', 'b'], ['yq'], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }),
        node('Flatten', ['yq'], ['fq'], { axis: 1 }),
        node('QLinearMatMul', ['fq', 'sy', 'zy', 'wm', 'sm', 'zm', 'so', 'zo'], ['oq']),
      ],
    },
    { opset: 13 },
  );

  // Exact integer arithmetic from the operators' definitions; requantisation multipliers in
  // float32, (sx·sw)/sy, as integer kernels compute them.
  const reference = (xq: Uint8Array): number[] => {
    const accumulators = conv3x3Accumulators({ xq, zx: s.zx, w, zw: convZeroPoint, bias, channels: C, outChannels: M, size: HW });
    const yq = accumulators.flatMap((row, m) => {
      const mult = Math.fround(Math.fround(s.x * s.wConv[m]!) / s.y);
      return row.map((acc) => clampU8(rhe(Math.fround(acc * mult)) + s.zy));
    });
    return Array.from({ length: K }, (_, k) => {
      let acc = 0;
      for (let f = 0; f < yq.length; f++) acc += (yq[f]! - s.zy) * (wm[f * K + k]! - zm[k]!);
      return clampU8(rhe(Math.fround(acc * Math.fround(Math.fround(s.y * s.wMat[k]!) / s.o))) + s.zo);
    });
  };
  return { model, reference };
}

async function run(model: ModelProto, xq: Uint8Array): Promise<number[]> {
  const session = await ort.InferenceSession.create(encodeModel(model), { logSeverityLevel: 3 });
  const { oq } = await session.run({ xq: new ort.Tensor('uint8', xq, [1, C, HW, HW]) });
  return Array.from(oq!.data as Uint8Array);
}

/** Inputs at 255 half of the time: with weights of ±127/−128, pair sums exceed int16. */
function input(seed: number): Uint8Array {
  const rnd = random(seed);
  return Uint8Array.from({ length: C * HW * HW }, () => (rnd() < 0.5 ? 255 : Math.floor(rnd() * 256)));
}

describe('model/onnx unsignedWeightsModel (exact int8 arithmetic on every CPU)', () => {
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
  });

  it('refuses a weight that another node also reads', () => {
    const { model } = fixture(5, 0);
    model.graph!.node!.push(node('DequantizeLinear', ['zw', 'sw', 'zw'], ['zw_real'], { axis: 0 }));
    expect(() => unsignedWeightsModel(model)).to.throw(UnsupportedQuantizedGraph, /zw/);
  });
});
