import { expect } from 'chai';
import sharp from 'sharp';
import { ImageTooLarge, ImageUndecodable } from '../../../../src/errors.js';
import { testManifest } from '../../../fixtures/manifests.js';
import { createPreprocessor } from '../../../../src/model/image/preprocess.js';
import { pngDeclaring } from '../../../fixtures/images.js';

const input = (extra: Record<string, unknown>) => testManifest({}, { width: 2, height: 2, ...extra }).input;

const limits = { maxImagePixels: 1_000_000 };

describe('preprocess', () => {
  it('normalises (p * scale - mean) / std per channel into NCHW planes', async () => {
    const pre = createPreprocessor(input({ scale: 1 / 255, mean: [0.5, 0.5, 0.5], std: [0.5, 0.25, 0.5] }), limits);
    const png = await sharp({ create: { width: 2, height: 2, channels: 3, background: { r: 255, g: 0, b: 51 } } }).png().toBuffer();
    const t = await pre(png);
    expect(t.length).to.equal(12);
    expect([...t.slice(0, 4)]).to.deep.equal([1, 1, 1, 1]);
    expect([...t.slice(4, 8)]).to.deep.equal([-2, -2, -2, -2]);
    expect(t[8]).to.be.closeTo((0.2 - 0.5) / 0.5, 1e-6);
  });

  it('lays out NHWC in BGR order when asked (Keras/Caffe style)', async () => {
    const pre = createPreprocessor(input({ layout: 'NHWC', channels: 'BGR', mean: [10, 20, 30] }), limits);
    const png = await sharp({ create: { width: 2, height: 2, channels: 3, background: { r: 100, g: 50, b: 0 } } }).png().toBuffer();
    const t = await pre(png);
    // pixel 0: B - meanB, G - meanG, R - meanR
    expect([...t.slice(0, 3)]).to.deep.equal([-30, 30, 90]);
  });

  it('applies the EXIF orientation before resizing', async () => {
    // A 2x1 image, red left and blue right, stored with orientation 6 (rotate 90° clockwise):
    // shown upright it is 1x2, red on top and blue below.
    const raw = Buffer.from([255, 0, 0, 0, 0, 255]);
    const jpeg = await sharp(raw, { raw: { width: 2, height: 1, channels: 3 } })
      .withMetadata({ orientation: 6 })
      .png()
      .toBuffer();
    const pre = createPreprocessor(input({ width: 1, height: 2 }), limits);
    const t = await pre(jpeg);
    // NCHW, 1x2: R plane = [top, bottom]
    expect(t[0]).to.be.greaterThan(200);
    expect(t[1]).to.be.lessThan(60);
  });

  it('flattens transparency onto white', async () => {
    const png = await sharp({ create: { width: 2, height: 2, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } })
      .png()
      .toBuffer();
    const t = await createPreprocessor(input({}), limits)(png);
    expect([...t]).to.deep.equal(new Array(12).fill(255));
  });

  it('refuses from the header an image over the pixel limit', async () => {
    const pre = createPreprocessor(input({}), limits);
    let err: unknown;
    await pre(pngDeclaring(2000, 2000)).catch((e: unknown) => (err = e));
    expect(err).to.be.instanceOf(ImageTooLarge);
    expect((err as Error).message).to.contain('2000x2000');
  });

  it('refuses bytes that are not an image, and SVG documents', async () => {
    const pre = createPreprocessor(input({}), limits);
    for (const bytes of [Buffer.from('hello'), Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="2" height="2"/>')]) {
      let err: unknown;
      await pre(bytes).catch((e: unknown) => (err = e));
      expect(err).to.be.instanceOf(ImageUndecodable);
    }
  });
});
