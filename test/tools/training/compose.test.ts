import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import * as ort from 'onnxruntime-node';
import { encodeModel } from '../../../src/model/onnx/codec.js';
import { FEATURES_OUTPUT, buildFeatureExtractor } from '../../../tools/training/backbone.js';
import { PROBABILITIES_OUTPUT, composeClassifier } from '../../../tools/training/compose.js';
import { flipHorizontal } from '../../../tools/training/features.js';
import type { HeadFile } from '../../../tools/training/head-file.js';
import { HEAD_FORMAT, parseHeadFile, readHeadFile, writeHeadFile } from '../../../tools/training/head-file.js';
import { QUANTIZED_BACKBONE_FEATURES, buildQuantizedBackbone } from '../../fixtures/quantized-backbone.js';

const F = QUANTIZED_BACKBONE_FEATURES;

function head(): HeadFile {
  return {
    format: HEAD_FORMAT,
    labels: ['Cat', 'Dog', 'Other'],
    backbone: { file: 'tiny.onnx', sha256: '0'.repeat(64), features: F },
    resize: 'cover',
    mean: Array.from({ length: F }, (_, j) => 0.1 * j),
    std: Array.from({ length: F }, (_, j) => 0.5 + 0.1 * j),
    weights: [0, 1, 2].map((c) => Array.from({ length: F }, (_, j) => Math.sin(c * 3 + j))),
    bias: [0.1, -0.2, 0.3],
    training: { images: 3, perClass: {}, l2: 1, l2Grid: [1], flip: true, folds: 2, seed: 1, repeats: 1, cvAccuracy: 1, nestedCvAccuracy: 1, confusion: [] },
  };
}

function images(n: number): ort.Tensor {
  return new ort.Tensor('float32', Float32Array.from({ length: n * 48 }, (_, i) => Math.sin(i * 0.37) * 2), [n, 3, 4, 4]);
}

describe('tools/training: backbone cut, composition, head file', () => {
  it('cuts the backbone at its pool: output features [N, C], no quantised op left', async () => {
    const extractor = buildFeatureExtractor(buildQuantizedBackbone());
    expect(extractor.graph!.node!.some((n) => /^Q|Dequantize|MatMul/.test(n.opType ?? ''))).to.equal(false);
    const session = await ort.InferenceSession.create(encodeModel(extractor));
    const out = await session.run({ input: images(2) });
    expect(out[FEATURES_OUTPUT]!.dims).to.deep.equal([2, F]);
  });

  it('composes one graph whose probabilities equal the head applied to the features', async () => {
    const h = head();
    const extractor = await ort.InferenceSession.create(encodeModel(buildFeatureExtractor(buildQuantizedBackbone())));
    const composed = await ort.InferenceSession.create(encodeModel(composeClassifier(buildQuantizedBackbone(), h)));
    expect(composed.outputNames).to.deep.equal([PROBABILITIES_OUTPUT]);
    const x = images(3);
    const features = (await extractor.run({ input: x }))[FEATURES_OUTPUT]!.data as Float32Array;
    const probabilities = (await composed.run({ input: x }))[PROBABILITIES_OUTPUT]!.data as Float32Array;
    for (let n = 0; n < 3; n++) {
      const logits = [0, 1, 2].map((c) => h.bias[c]! + h.weights[c]!.reduce((s, w, j) => s + (w * (features[n * F + j]! - h.mean[j]!)) / h.std[j]!, 0));
      const max = Math.max(...logits);
      const e = logits.map((z) => Math.exp(z - max));
      const sum = e.reduce((a, b) => a + b);
      e.forEach((v, c) => expect(probabilities[n * 3 + c]).to.be.closeTo(v / sum, 1e-5));
    }
  });

  it('composes deterministically (the manifest can pin the SHA-256)', () => {
    const a = encodeModel(composeClassifier(buildQuantizedBackbone(), head()));
    const b = encodeModel(composeClassifier(buildQuantizedBackbone(), head()));
    expect(Buffer.from(a).equals(Buffer.from(b))).to.equal(true);
  });

  it('writes and reads back a head file, and refuses a malformed one', async () => {
    const file = path.join(await mkdtemp(path.join(tmpdir(), 'head-')), 'head.json');
    await writeHeadFile(file, head());
    expect(await readHeadFile(file)).to.deep.equal(head());
    expect(() => parseHeadFile({ ...head(), bias: [1] }, 'x.json')).to.throw(/bias/);
  });

  it('mirrors an image tensor left-right', () => {
    const chw = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]); // 2 planes of 2×2
    expect(Array.from(flipHorizontal(chw, 2, 2))).to.deep.equal([2, 1, 4, 3, 6, 5, 8, 7]);
  });
});
