import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { encodeModel } from '../../../../src/model/onnx/codec.js';
import { buildModel, floatValueInfo, node } from '../../../../tools/onnx/builder.js';
import { floatTensor, int8Tensor } from '../../../../src/model/onnx/tensor.js';
import { unsignedWeightsModel } from '../../../../src/model/int8/unsigned-weights.js';
import { hostCpuFeatures, prepareInt8Weights, signedInt8IsExact, type CpuFeatures } from '../../../../src/model/int8/kernels.js';
import { reduceWeightRange } from '../../../../tools/onnx/reduce-range.js';
import { runQuantized, saturatingInput, signedWeightsFixture } from '../../../fixtures/signed-weights-model.js';

const cpu = (arch: string, ...flags: string[]): CpuFeatures => ({ arch, flags: new Set(flags) });
const AVX2_ONLY = cpu('x64', 'sse4_1', 'avx2', 'fma');
const VNNI = cpu('x64', 'avx2', 'avx512bw', 'avx512_vnni');

describe('model/int8/kernels: int8 weights in the form that is exact on this CPU', () => {
  it('trusts signed weights only where onnxruntime picks an exact u8s8 kernel', () => {
    expect(signedInt8IsExact(AVX2_ONLY)).to.equal(false);
    expect(signedInt8IsExact(cpu('x64', 'avx2', 'avx512f', 'avx512bw'))).to.equal(false);
    expect(signedInt8IsExact(VNNI)).to.equal(true);
    expect(signedInt8IsExact(cpu('x64', 'avx2', 'avx_vnni'))).to.equal(true);
    expect(signedInt8IsExact(cpu('x64', 'amx_int8'))).to.equal(true);
    expect(signedInt8IsExact(cpu('arm64'))).to.equal(true);
    expect(signedInt8IsExact(cpu('x64'))).to.equal(false); // flags unknown (not Linux)
    expect(signedInt8IsExact(cpu('riscv64'))).to.equal(false);
  });

  it("reads Linux's CPU flags, and none when /proc/cpuinfo cannot be read", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'cpuinfo-'));
    try {
      const file = path.join(dir, 'cpuinfo');
      await writeFile(file, 'processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: fpu avx2 avx512_vnni\n\nprocessor\t: 1\nflags\t\t: fpu avx2 avx512_vnni\n');
      expect([...hostCpuFeatures(file).flags]).to.deep.equal(['fpu', 'avx2', 'avx512_vnni']);
      expect(hostCpuFeatures(path.join(dir, 'missing')).flags.size).to.equal(0);
    } finally {
      await rm(dir, { recursive: true });
    }
  });

  it('re-types signed weights on a CPU whose u8s8 kernels saturate, and keeps them on one whose do not', () => {
    const bytes = encodeModel(signedWeightsFixture(1, 0).model);
    expect(prepareInt8Weights(bytes, 'auto', AVX2_ONLY).int8Weights).to.equal('unsigned');
    expect(prepareInt8Weights(bytes, 'auto', VNNI)).to.deep.equal({ bytes, int8Weights: 'as-is' });
    expect(prepareInt8Weights(bytes, 'unsigned', VNNI).int8Weights).to.equal('unsigned');
    expect(prepareInt8Weights(bytes, 'as-is', AVX2_ONLY)).to.deep.equal({ bytes, int8Weights: 'as-is' });
  });

  it('keeps weights within ±64 signed on every CPU: no u8s8 pair sum can saturate (issue 23)', () => {
    const { model } = signedWeightsFixture(1, 0);
    model.graph!.initializer = model.graph!.initializer!.map((t) => (t.name === 'zm' ? int8Tensor('zm', [3], [0, 0, 0]) : t));
    const bytes = encodeModel(reduceWeightRange(model).model);
    expect(prepareInt8Weights(bytes, 'auto', AVX2_ONLY)).to.deep.equal({ bytes, int8Weights: 'as-is' });
    expect(prepareInt8Weights(bytes, 'auto', cpu('x64'))).to.deep.equal({ bytes, int8Weights: 'as-is' });
    expect(prepareInt8Weights(bytes, 'auto', cpu('riscv64'))).to.deep.equal({ bytes, int8Weights: 'as-is' });
    // Explicit settings still do what they say.
    expect(prepareInt8Weights(bytes, 'unsigned', AVX2_ONLY).int8Weights).to.equal('unsigned');
    expect(prepareInt8Weights(bytes, 'as-is', AVX2_ONLY)).to.deep.equal({ bytes, int8Weights: 'as-is' });
  });

  it('leaves a model without int8 weights as it is (float, or uint8 already)', () => {
    const bytes = encodeModel(
      buildModel({
        name: 'float',
        input: [floatValueInfo('x', [1, 2])],
        output: [floatValueInfo('y', [1, 2])],
        initializer: [floatTensor('w', [2, 2], [1, 2, 3, 4])],
        node: [node('MatMul', ['x', 'w'], ['y'])],
      }),
    );
    expect(prepareInt8Weights(bytes, 'unsigned', AVX2_ONLY)).to.deep.equal({ bytes, int8Weights: 'none' });
    const alreadyUnsigned = encodeModel(unsignedWeightsModel(signedWeightsFixture(1, 0).model));
    expect(prepareInt8Weights(alreadyUnsigned, 'unsigned', AVX2_ONLY)).to.deep.equal({ bytes: alreadyUnsigned, int8Weights: 'none' });
  });

  // The check that matters: whatever `auto` picks on the machine running the tests gives exact
  // integer arithmetic on inputs that overflow a saturating u8s8 kernel.
  for (const seed of [1, 2, 3]) {
    it(`gives exact integer arithmetic on this CPU where u8s8 pair sums overflow int16 (seed ${seed})`, async () => {
      const { model, reference } = signedWeightsFixture(seed, seed === 3 ? -3 : 0);
      const prepared = prepareInt8Weights(encodeModel(model), 'auto');
      const xq = saturatingInput(seed + 100);
      expect(await runQuantized(prepared.bytes, xq), `INT8_WEIGHTS=auto chose ${prepared.int8Weights}`).to.deep.equal(reference(xq));
    });
  }
});
