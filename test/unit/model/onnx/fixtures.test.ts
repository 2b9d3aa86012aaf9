import { expect } from 'chai';
import * as ort from 'onnxruntime-node';
import { parseManifest } from '../../../../src/model/manifest.js';
import {
  COURSE_VGG_MEAN,
  IMAGENET_LIKE_CLASSES,
  IMAGENET_MEAN,
  IMAGENET_STD,
  buildCourseVggLikeModel,
  buildImagenetLikeModel,
  courseVggLikeManifest,
  imagenetLikeManifest,
} from '../../../fixtures/onnx-models.js';

const SIZE = 224;
type Rgb = readonly [number, number, number];
const RED: Rgb = [220, 30, 30];
const GREEN: Rgb = [30, 220, 30];
const BLUE: Rgb = [30, 30, 220];

/** A batch of uniformly coloured images, NHWC, 0..255 minus the course mean. */
function nhwcBatch(colours: readonly Rgb[]): ort.Tensor {
  const data = new Float32Array(colours.length * SIZE * SIZE * 3);
  colours.forEach((rgb, n) => {
    for (let p = 0; p < SIZE * SIZE; p++) {
      for (let c = 0; c < 3; c++) data[(n * SIZE * SIZE + p) * 3 + c] = rgb[c]! - COURSE_VGG_MEAN[c]!;
    }
  });
  return new ort.Tensor('float32', data, [colours.length, SIZE, SIZE, 3]);
}

/** A batch of uniformly coloured images, NCHW, ImageNet-normalised. */
function nchwBatch(colours: readonly Rgb[]): ort.Tensor {
  const plane = SIZE * SIZE;
  const data = new Float32Array(colours.length * 3 * plane);
  colours.forEach((rgb, n) => {
    for (let c = 0; c < 3; c++) {
      data.fill((rgb[c]! / 255 - IMAGENET_MEAN[c]!) / IMAGENET_STD[c]!, (n * 3 + c) * plane, (n * 3 + c + 1) * plane);
    }
  });
  return new ort.Tensor('float32', data, [colours.length, 3, SIZE, SIZE]);
}

function argmax(values: ArrayLike<number>, offset: number, length: number): number {
  let best = 0;
  for (let i = 1; i < length; i++) if (values[offset + i]! > values[offset + best]!) best = i;
  return best;
}

describe('test fixtures: tiny ONNX models', () => {
  describe('buildCourseVggLikeModel', () => {
    it('is deterministic', () => {
      expect(Buffer.from(buildCourseVggLikeModel()).equals(Buffer.from(buildCourseVggLikeModel()))).to.equal(true);
    });

    it('declares the course export contract: input_1 [N,224,224,3] → dense [N,3]', async () => {
      const session = await ort.InferenceSession.create(buildCourseVggLikeModel());
      expect(session.inputNames).to.deep.equal(['input_1']);
      expect(session.outputNames).to.deep.equal(['dense']);
      const meta = session.inputMetadata[0] as { shape: readonly (number | string)[] };
      expect(meta.shape.slice(1)).to.deep.equal([224, 224, 3]);
    });

    it('answers Cat for red, Dog for green and Other for blue, with sigmoid outputs, in one batch', async () => {
      const session = await ort.InferenceSession.create(buildCourseVggLikeModel());
      const { dense } = await session.run({ input_1: nhwcBatch([RED, GREEN, BLUE]) });
      expect(dense!.dims).to.deep.equal([3, 3]);
      const values = dense!.data as Float32Array;
      for (const v of values) expect(v).to.be.within(0, 1);
      expect([0, 1, 2].map((n) => argmax(values, n * 3, 3))).to.deep.equal([0, 1, 2]);
      expect(values[0]).to.be.greaterThan(0.95);
    });

    it('has a manifest the service accepts', () => {
      const m = parseManifest(courseVggLikeManifest('vgg.onnx', 'a'.repeat(64)), '/models/vgg.json');
      expect(m.input.layout).to.equal('NHWC');
      expect(m.output.activation).to.equal('sigmoid');
      expect(m.file).to.equal('/models/vgg.onnx');
    });
  });

  describe('buildImagenetLikeModel', () => {
    it('is deterministic', () => {
      expect(Buffer.from(buildImagenetLikeModel()).equals(Buffer.from(buildImagenetLikeModel()))).to.equal(true);
    });

    it('declares the ImageNet contract: input [N,3,224,224] → output [N,1000]', async () => {
      const session = await ort.InferenceSession.create(buildImagenetLikeModel());
      expect(session.inputNames).to.deep.equal(['input']);
      expect(session.outputNames).to.deep.equal(['output']);
      const { output } = await session.run({ input: nchwBatch([RED]) });
      expect(output!.dims).to.deep.equal([1, 1000]);
    });

    it('predicts class 281 (cat) for red, 200 (dog) for green and 900 (other) for blue', async () => {
      const session = await ort.InferenceSession.create(buildImagenetLikeModel());
      const { output } = await session.run({ input: nchwBatch([RED, GREEN, BLUE]) });
      const logits = output!.data as Float32Array;
      expect([0, 1, 2].map((n) => argmax(logits, n * 1000, 1000))).to.deep.equal([
        IMAGENET_LIKE_CLASSES.red,
        IMAGENET_LIKE_CLASSES.green,
        IMAGENET_LIKE_CLASSES.blue,
      ]);
    });

    it('has a manifest the service accepts, grouping ImageNet classes', () => {
      const m = parseManifest(imagenetLikeManifest('in.onnx', 'b'.repeat(64)), '/models/in.json');
      expect(m.grouping?.groups.Cat).to.deep.equal([[281, 285]]);
      expect(m.decision.rule).to.equal('threshold');
    });
  });
});
