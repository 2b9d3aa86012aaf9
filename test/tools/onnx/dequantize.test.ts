import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import * as ort from 'onnxruntime-node';
import { buildModel, floatValueInfo, node } from '../../../tools/onnx/builder.js';
import { decodeModel, encodeModel } from '../../../src/model/onnx/codec.js';
import { UnsupportedQuantizedGraph } from '../../../src/model/onnx/errors.js';
import { dequantizeModel } from '../../../tools/onnx/dequantize.js';
import { floatTensor, int32Tensor, int8Tensor, tensorNumbers, uint8Tensor } from '../../../src/model/onnx/tensor.js';
import type { ModelProto } from '../../../src/model/onnx/types.js';
import { seededRandom as random } from '../../../tools/training/random.js';
import { conv3x3Accumulators, roundHalfEven as rhe } from '../../fixtures/quantized-reference.js';

// The backbone `make model` obtained (SHA-256 verified); the test is skipped before it has run.
const realModel = fileURLToPath(new URL('../../../resources/models/mobilenetv2-12-int8.onnx', import.meta.url));

const clamp = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, v));

// A small QOperator graph: x [1,2,5,5] → QuantizeLinear (u8) → QLinearConv 3×3 pad 1, per-channel
// int8 weights, int32 bias, output u8 zero point 0 (a folded ReLU) → QLinearAdd of a u8 constant
// → QLinearGlobalAveragePool → Flatten → QLinearMatMul (per-column int8) → DequantizeLinear.
const C = 2;
const M = 3;
const HW = 5;
const K = 4;
const q = {
  sx: 0.02, zx: 128, sy: 0.03, sa: 0.04, za: 10, sc: 0.05, zc: 0, sp: 0.02, zp: 0, so: 0.1, zo: 120,
  sw: [0.01, 0.02, 0.015], sb: [0.005, 0.01, 0.02, 0.004], sadd: 0.01, zadd: 100,
};

interface Fixture {
  readonly model: ModelProto;
  readonly reference: (x: Float32Array) => number[];
}

function quantizedFixture(seed: number, options: { bigBias?: boolean } = {}): Fixture {
  const rnd = random(seed);
  const w = Array.from({ length: M * C * 9 }, () => Math.floor(rnd() * 256) - 128);
  const bias = Array.from({ length: M }, () => (options.bigBias ? 2_000_000 : Math.floor(rnd() * 2000) - 1000));
  const addend = Array.from({ length: M }, () => Math.floor(rnd() * 256));
  const wm = Array.from({ length: M * K }, () => Math.floor(rnd() * 256) - 128);
  const graph = {
    name: 'quantized',
    input: [floatValueInfo('x', [1, C, HW, HW])],
    output: [floatValueInfo('y', [1, K])],
    initializer: [
      floatTensor('sx', [], [q.sx]), uint8Tensor('zx', [], [q.zx]),
      int8Tensor('w', [M, C, 3, 3], w), floatTensor('sw', [M], q.sw), int8Tensor('zw', [M], [0, 0, 0]),
      int32Tensor('b', [M], bias),
      floatTensor('sy', [], [q.sy]), uint8Tensor('zy', [], [0]),
      uint8Tensor('addend', [1, M, 1, 1], addend), floatTensor('sadd', [], [q.sadd]), uint8Tensor('zadd', [], [q.zadd]),
      floatTensor('sc', [], [q.sc]), uint8Tensor('zc', [], [q.zc]),
      floatTensor('sp', [], [q.sp]), uint8Tensor('zp', [], [q.zp]),
      int8Tensor('wm', [M, K], wm), floatTensor('sb', [K], q.sb), int8Tensor('zb', [K], [0, 0, 0, 0]),
      floatTensor('so', [], [q.so]), uint8Tensor('zo', [], [q.zo]),
    ],
    node: [
      node('QuantizeLinear', ['x', 'sx', 'zx'], ['xq']),
      node('QLinearConv', ['xq', 'sx', 'zx', 'w', 'sw', 'zw', 'sy', 'zy', 'b'], ['yq'], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }),
      { ...node('QLinearAdd', ['yq', 'sy', 'zy', 'addend', 'sadd', 'zadd', 'sc', 'zc'], ['cq']), domain: 'com.microsoft' },
      { ...node('QLinearGlobalAveragePool', ['cq', 'sc', 'zc', 'sp', 'zp'], ['pq'], { channels_last: 0 }), domain: 'com.microsoft' },
      node('Flatten', ['pq'], ['fq'], { axis: 1 }),
      node('QLinearMatMul', ['fq', 'sp', 'zp', 'wm', 'sb', 'zb', 'so', 'zo'], ['oq']),
      node('DequantizeLinear', ['oq', 'so', 'zo'], ['y']),
    ],
  };
  const model = buildModel(graph, { opset: 13, extraOpsets: [{ domain: 'com.microsoft', version: 1 }] });

  // Exact integer arithmetic, written from the operators' definitions.
  const reference = (x: Float32Array): number[] => {
    const xq = Array.from(x, (v) => clamp(rhe(Math.fround(v / q.sx)) + q.zx, 0, 255));
    const accumulators = conv3x3Accumulators({ xq, zx: q.zx, w, zw: 0, bias, channels: C, outChannels: M, size: HW });
    const cq = accumulators.flatMap((row, m) => {
      const mult = Math.fround(Math.fround(q.sx * q.sw[m]!) / q.sy);
      return row.map((acc) => {
        const yq = clamp(rhe(Math.fround(acc * mult)), 0, 255);
        const real = q.sy * yq + q.sadd * (addend[m]! - q.zadd);
        return clamp(rhe(real / q.sc) + q.zc, 0, 255);
      });
    });
    const pq = Array.from({ length: M }, (_, m) => {
      const sum = cq.slice(m * HW * HW, (m + 1) * HW * HW).reduce((a, b) => a + b - q.zc, 0);
      return clamp(rhe((q.sc * sum) / (HW * HW) / q.sp) + q.zp, 0, 255);
    });
    return Array.from({ length: K }, (_, k) => {
      let acc = 0;
      for (let m = 0; m < M; m++) acc += (pq[m]! - q.zp) * wm[m * K + k]!;
      const oq = clamp(rhe(Math.fround(acc * Math.fround(Math.fround(q.sp * q.sb[k]!) / q.so))) + q.zo, 0, 255);
      return q.so * (oq - q.zo);
    });
  };
  return { model, reference };
}

async function runFloat(model: ModelProto, x: Float32Array): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(encodeModel(model), { logSeverityLevel: 3 });
  const { y } = await session.run({ x: new ort.Tensor('float32', x, [1, C, HW, HW]) });
  return y!.data as Float32Array;
}

function input(seed: number, amplitude = 2): Float32Array {
  const rnd = random(seed);
  return Float32Array.from({ length: C * HW * HW }, () => (rnd() * 2 - 1) * amplitude);
}

describe('tools/onnx dequantizeModel (issue 7: the same answers on every CPU)', () => {
  it('leaves no quantised operator and no int8 weights behind', () => {
    const float = dequantizeModel(quantizedFixture(1).model);
    const ops = float.graph!.node!.map((n) => n.opType);
    expect(ops.filter((op) => /Q|Dequantize/.test(op ?? ''))).to.deep.equal([]);
    expect(float.graph!.initializer!.every((t) => t.dataType === 1)).to.equal(true);
    expect(float.opsetImport!.map((o) => o.domain)).to.deep.equal(['']);
  });

  for (const seed of [1, 2, 3]) {
    it(`'steps' reproduces exact integer arithmetic (seed ${seed})`, async () => {
      const { model, reference } = quantizedFixture(seed);
      const x = input(seed + 100);
      const got = await runFloat(dequantizeModel(model, { representation: 'steps' }), x);
      const want = reference(x);
      want.forEach((v, k) => expect(got[k]).to.be.closeTo(v, 1e-5));
    });
  }

  it("'steps' survives onnxruntime's graph optimisations: convolution weights stay integers", async () => {
    // A fusion of the requantisation multiplier into the weights would make the sums inexact.
    // Read back the graph onnxruntime actually runs: every convolution of ours must still have
    // integer weights (the NCHWc layout pass may add 1×1 convolutions that apply the multiplier).
    const float = dequantizeModel(quantizedFixture(7).model);
    const optimized = path.join(mkdtempSync(path.join(tmpdir(), 'ort-opt-')), 'optimized.onnx');
    await ort.InferenceSession.create(encodeModel(float), {
      graphOptimizationLevel: 'all',
      optimizedModelFilePath: optimized,
      logSeverityLevel: 3,
    });
    const graph = decodeModel(readFileSync(optimized)).graph!;
    const inits = new Map(graph.initializer!.map((t) => [t.name, t]));
    const integerConvs = graph.node!.filter((n) => {
      const w = n.opType === 'Conv' ? inits.get(n.input![1]) : undefined;
      return w !== undefined && tensorNumbers(w).every((v) => Number.isInteger(v));
    });
    expect(integerConvs.length).to.equal(float.graph!.node!.filter((n) => n.opType === 'Conv').length);
  });

  it("'real' stays within a few output steps of exact integer arithmetic", async () => {
    const { model, reference } = quantizedFixture(4);
    const x = input(104);
    const got = await runFloat(dequantizeModel(model, { representation: 'real' }), x);
    reference(x).forEach((v, k) => expect(Math.abs(got[k]! - v)).to.be.at.most(3 * q.so));
  });

  it('keeps saturation: outputs beyond their quantised range are clipped to it', async () => {
    // A huge bias drives every convolution output past 255 steps; the quantised model propagates
    // the clipped value, and so must the float graph.
    const { model, reference } = quantizedFixture(5, { bigBias: true });
    const x = input(105);
    const want = reference(x);
    const steps = await runFloat(dequantizeModel(model, { representation: 'steps' }), x);
    want.forEach((v, k) => expect(steps[k]).to.be.closeTo(v, 1e-5));
    const real = dequantizeModel(model, { representation: 'real' });
    const clipped = await runFloat(real, x);
    want.forEach((v, k) => expect(Math.abs(clipped[k]! - v)).to.be.at.most(q.so));
    const unclipped = structuredClone(real);
    for (const n of unclipped.graph!.node!) if (n.opType === 'Clip') Object.assign(n, { opType: 'Identity', input: [n.input![0]!] });
    const wrong = await runFloat(unclipped, x);
    expect(Math.max(...want.map((v, k) => Math.abs(wrong[k]! - v)))).to.be.greaterThan(10 * q.so);
  });

  it('refuses quantised operators it does not know', () => {
    const { model } = quantizedFixture(6);
    model.graph!.node!.push({ ...node('QLinearSigmoid', ['oq', 'so', 'zo', 'so', 'zo'], ['s']), domain: 'com.microsoft' });
    expect(() => dequantizeModel(model)).to.throw(UnsupportedQuantizedGraph, /QLinearSigmoid/);
  });

  it('converts the real MobileNetV2 int8 model into a float graph that runs', async function () {
    if (!existsSync(realModel)) this.skip();
    const float = dequantizeModel(decodeModel(readFileSync(realModel)));
    const session = await ort.InferenceSession.create(encodeModel(float));
    const x = new Float32Array(3 * 224 * 224).map((_, i) => Math.sin(i / 50));
    const { output } = await session.run({ input: new ort.Tensor('float32', x, [1, 3, 224, 224]) });
    expect(output!.dims).to.deep.equal([1, 1000]);
    expect(Number.isFinite((output!.data as Float32Array)[0])).to.equal(true);
  });
});
