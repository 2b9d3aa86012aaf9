/**
 * Planning an inference request (src/oip/request.ts): what the protocol allows a client to send,
 * and what is refused before anything large is made.
 */
import { expect } from 'chai';
import { BatchTooLarge, BinaryDataInvalid, TensorInvalid, UnknownTensor } from '../../../src/errors.js';
import { planInference, rawRequestHeader } from '../../../src/oip/request.js';
import type { ModelSignature } from '../../../src/oip/tensors.js';
import { tensorSignatureOf } from '../../../src/oip/tensors.js';
import { testManifest } from '../../fixtures/manifests.js';

type Request = Parameters<typeof planInference>[0];

const signature: ModelSignature = tensorSignatureOf(testManifest({}, { layout: 'NHWC', width: 2, height: 1 }));
const png = Buffer.from('89504e470d0a1a0a', 'hex');
const b64 = png.toString('base64');
const plan = (request: unknown, binary?: Parameters<typeof planInference>[1]) => planInference(request as Request, binary, signature, { maxBatchImages: 8 });

describe('inference request planning', () => {
  it('takes images from base64, flat or nested, in shape [N] or [N, 1]', () => {
    for (const [shape, data] of [[[2], [b64, b64]], [[2, 1], [[b64], [b64]]]] as const) {
      const { batch } = plan({ inputs: [{ name: 'image', datatype: 'BYTES', shape, data }] });
      expect(batch).to.deep.equal({ kind: 'images', images: [png, png] });
    }
  });

  it("takes the model's own tensor rows, in its layout", () => {
    const data = [[[[1, 2, 3], [4, 5, 6]]], [[[7, 8, 9], [10, 11, 12]]]];
    const { batch } = plan({ inputs: [{ name: 'input', datatype: 'FP32', shape: [2, 1, 2, 3], data }] });
    expect(batch.kind).to.equal('tensors');
    expect((batch as { readonly rows: readonly Float32Array[] }).rows.map((r) => [...r])).to.deep.equal([[1, 2, 3, 4, 5, 6], [7, 8, 9, 10, 11, 12]]);
    expect(() => plan({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 3, 1, 2], data: [] }] })).to.throw(TensorInvalid, 'has shape [N, 1, 2, 3], not [1, 3, 1, 2]');
    expect(() => plan({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 1, 2, 3], data: [1, 2, 3, 4, 5, 'x'] }] })).to.throw(TensorInvalid, 'element 5 is "x", not a finite number');
  });

  it('answers every output when none is asked for, binary when binary_data_output says so', () => {
    const request = { inputs: [{ name: 'image', datatype: 'BYTES', shape: [1], data: [b64] }], parameters: { binary_data_output: true } };
    expect(plan(request).outputs).to.deep.equal([{ name: 'probabilities', binary: true }, { name: 'label', binary: true }]);
    expect(plan({ ...request, outputs: [{ name: 'probabilities', parameters: { classification: 9, binary_data: false } }] }).outputs)
      .to.deep.equal([{ name: 'probabilities', binary: false, classification: 3 }]);
  });

  it('refuses names the model does not have, an input or output twice, and both inputs at once', () => {
    const image = { name: 'image', datatype: 'BYTES', shape: [1], data: [b64] };
    expect(() => plan({ inputs: [{ ...image, name: 'x' }] })).to.throw(UnknownTensor, 'Model has no input "x"');
    expect(() => plan({ inputs: [image], outputs: [{ name: 'logits' }] })).to.throw(UnknownTensor, 'Model has no output "logits"');
    expect(() => plan({ inputs: [image, image] })).to.throw(TensorInvalid, 'is given twice');
    expect(() => plan({ inputs: [image], outputs: [{ name: 'label' }, { name: 'label' }] })).to.throw(TensorInvalid, 'asked for twice');
    expect(() => plan({ inputs: [image, { name: 'input', datatype: 'FP32', shape: [1, 1, 2, 3], data: [0, 0, 0, 0, 0, 0] }] })).to.throw(TensorInvalid, 'not both');
  });

  it('refuses a batch over the bound, or empty, from its shape alone', () => {
    expect(() => plan({ inputs: [{ name: 'image', datatype: 'BYTES', shape: [9], data: [] }] })).to.throw(BatchTooLarge, '9 images, over the limit of 8');
    expect(() => plan({ inputs: [{ name: 'image', datatype: 'BYTES', shape: [0], data: [] }] })).to.throw(TensorInvalid, 'holds no image');
  });

  it('refuses neither data nor binary_data_size, both, and binary data without the header', () => {
    const input = { name: 'image', datatype: 'BYTES', shape: [1] };
    expect(() => plan({ inputs: [input] })).to.throw(TensorInvalid, 'neither "data" nor parameters.binary_data_size');
    expect(() => plan({ inputs: [{ ...input, data: [b64], parameters: { binary_data_size: 4 } }] })).to.throw(TensorInvalid, 'both "data" and');
    expect(() => plan({ inputs: [{ ...input, parameters: { binary_data_size: 4 } }] })).to.throw(BinaryDataInvalid, 'no Inference-Header-Content-Length');
    expect(() => plan({ inputs: [{ ...input, data: [b64] }] }, { tail: Buffer.from('x'), raw: false })).to.throw(BinaryDataInvalid, '1 bytes follow');
  });

  it('reads a raw binary request as one image, framed with its 4-byte length or not', () => {
    const framed = Buffer.concat([Buffer.from([png.length, 0, 0, 0]), png]);
    for (const body of [png, framed]) {
      const { batch, outputs } = plan(rawRequestHeader(body.length), { tail: body, raw: true });
      expect(batch).to.deep.equal({ kind: 'images', images: [png] });
      expect(outputs.every((o) => o.binary)).to.equal(true);
    }
  });
});
