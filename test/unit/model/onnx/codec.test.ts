import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import * as ort from 'onnxruntime-node';
import { attribute, buildModel, floatValueInfo, node } from '../../../../tools/onnx/builder.js';
import { decodeModel, encodeModel } from '../../../../src/model/onnx/codec.js';
import { OnnxFormatError } from '../../../../src/model/onnx/errors.js';
import { floatTensor, int64Tensor, int8Tensor, tensorNumbers, tensorValues } from '../../../../src/model/onnx/tensor.js';
import { AttributeType, DataType } from '../../../../src/model/onnx/types.js';

// The backbone `make model` obtained (SHA-256 verified); the test is skipped before it has run.
const realModel = fileURLToPath(new URL('../../../../resources/models/mobilenetv2-12-int8.onnx', import.meta.url));

function addOneModel(): Uint8Array {
  return encodeModel(
    buildModel({
      name: 'add_one',
      input: [floatValueInfo('x', ['N', 2])],
      output: [floatValueInfo('y', ['N', 2])],
      initializer: [floatTensor('one', [2], [1, 1])],
      node: [node('Add', ['x', 'one'], ['y'])],
    }),
  );
}

describe('model/onnx codec, tensors and builder', () => {
  it('writes models onnxruntime runs', async () => {
    const session = await ort.InferenceSession.create(addOneModel());
    const { y } = await session.run({ x: new ort.Tensor('float32', Float32Array.from([1, 2, 3, 4]), [2, 2]) });
    expect(Array.from(y!.data as Float32Array)).to.deep.equal([2, 3, 4, 5]);
  });

  it('decodes what it encodes, with int64 as numbers and symbolic dims kept', () => {
    const model = decodeModel(addOneModel());
    expect(model.irVersion).to.equal(7);
    expect(model.opsetImport).to.deep.equal([{ domain: '', version: 13 }]);
    expect(model.graph?.input?.[0]?.type?.tensorType?.shape?.dim).to.deep.equal([{ dimParam: 'N' }, { dimValue: 2 }]);
    expect(Array.from(tensorNumbers(model.graph!.initializer![0]!))).to.deep.equal([1, 1]);
  });

  it('rejects bytes that are not a model', () => {
    expect(() => decodeModel(Uint8Array.from([0xff, 0xff, 0xff]))).to.throw(OnnxFormatError);
  });

  it('round-trips typed tensors of each supported type', () => {
    expect(Array.from(tensorNumbers(int8Tensor('w', [3], [-128, 0, 127])))).to.deep.equal([-128, 0, 127]);
    expect(Array.from(tensorNumbers(int64Tensor('s', [2], [-1, 2 ** 40])))).to.deep.equal([-1, 2 ** 40]);
    expect(tensorValues({ dims: [2], dataType: DataType.INT8, int32Data: [-3, 4] })).to.be.instanceOf(Int8Array);
    expect(() => floatTensor('bad', [2, 2], [1, 2, 3])).to.throw(RangeError);
  });

  it('types attributes: integers as INT(S), fractions as FLOAT(S), forced floats', () => {
    expect(attribute('axis', 1)).to.include({ type: AttributeType.INT, i: 1 });
    expect(attribute('alpha', 0.5)).to.include({ type: AttributeType.FLOAT, f: 0.5 });
    expect(attribute('min', { float: 0 })).to.include({ type: AttributeType.FLOAT, f: 0 });
    expect(attribute('pads', [0, 1])).to.deep.include({ type: AttributeType.INTS, ints: [0, 1] });
  });

  it('re-encodes the real MobileNetV2 int8 model without changing its answers', async function () {
    if (!existsSync(realModel)) this.skip();
    const original = readFileSync(realModel);
    const reencoded = encodeModel(decodeModel(original));
    const input = new ort.Tensor('float32', new Float32Array(3 * 224 * 224).map((_, i) => Math.sin(i) * 2), [1, 3, 224, 224]);
    const a = await (await ort.InferenceSession.create(original)).run({ input });
    const b = await (await ort.InferenceSession.create(reencoded)).run({ input });
    expect(Array.from(b.output!.data as Float32Array)).to.deep.equal(Array.from(a.output!.data as Float32Array));
  });
});
