/**
 * What is refused from the header alone, before any decoder runs, and what decoding the rest will
 * cost (issue 17, failures 2 and 3).
 */
import { expect } from 'chai';
import sharp from 'sharp';
import { ImageTooComplex, ImageTooLarge, ImageUndecodable } from '../../../../src/errors.js';
import { estimateDecodeBytes, type DecodeCostInput } from '../../../../src/model/image/decode-cost.js';
import { inspectImage, type HeaderLimits } from '../../../../src/model/image/header.js';
import { scanBombJpeg } from '../../../fixtures/costly-images.js';

const MiB = 1024 * 1024;
const limits: HeaderLimits = { maxImagePixels: 40_000_000, maxJpegScans: 100, maxDecodeBytes: Infinity };

async function refusal(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a refusal');
}

const grey = (width: number, height: number) =>
  sharp({ create: { width, height, channels: 3, background: '#777777' } });

describe('model/image-header', () => {
  it('refuses a JPEG of 2,000 empty scans as too complex, from its markers (its decode takes about 10 s)', async () => {
    const err = await refusal(inspectImage(await scanBombJpeg(), limits));
    expect(err).to.be.instanceOf(ImageTooComplex);
    expect((err as ImageTooComplex).status).to.equal(422);
    expect(err.message).to.match(/more than 100 scans/);
  });

  it('accepts an ordinary progressive JPEG and estimates its coefficient buffer', async () => {
    const header = await inspectImage(await grey(1600, 1200).jpeg({ progressive: true }).toBuffer(), limits);
    expect(header).to.deep.include({ format: 'jpeg', width: 1600, height: 1200 });
    // 4:2:0: 1.5 samples per pixel, 2 bytes each, + 15 % + 4 MiB.
    expect(header.decodeBytes).to.be.closeTo(1600 * 1200 * 3 * 1.15 + 4 * MiB, 64 * 1024);
  });

  it('refuses an image whose decode would need more memory than one image may use, naming the format', async () => {
    const avif = await grey(1600, 1600).avif({ effort: 0 }).toBuffer();
    const err = await refusal(inspectImage(avif, { ...limits, maxDecodeBytes: 32 * MiB }));
    expect(err).to.be.instanceOf(ImageTooLarge);
    expect((err as ImageTooLarge).status).to.equal(413);
    expect(err.message).to.equal(
      'Decoding this AVIF image of 1600x1600 pixels would need about 51 MiB, over the 32 MiB one image may use; send it smaller or as a baseline JPEG',
    );
    // The same picture as a baseline JPEG is decoded shrunk: far cheaper.
    const jpeg = await inspectImage(await grey(1600, 1600).jpeg().toBuffer(), { ...limits, maxDecodeBytes: 32 * MiB });
    expect(jpeg.decodeBytes).to.be.below(6 * MiB);
  });

  it('refuses too many pixels before estimating anything', async () => {
    const err = await refusal(inspectImage(await grey(2000, 2000).png().toBuffer(), { ...limits, maxImagePixels: 1_000_000 }));
    expect(err).to.be.instanceOf(ImageTooLarge);
    expect(err.message).to.contain('2000x2000 pixels, over the limit of 1000000 pixels');
  });

  it('refuses what is not an accepted image', async () => {
    for (const bytes of [Buffer.from('hello'), Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0])]) {
      expect(await refusal(inspectImage(bytes, limits))).to.be.instanceOf(ImageUndecodable);
    }
  });
});

describe('model/decode-cost', () => {
  const base: DecodeCostInput = { format: 'jpeg', width: 6000, height: 6000, channels: 3, bitsPerSample: 8, interlaced: false };

  it('prices an 8-bit AVIF of 6000 × 6000 at about 650 MiB (measured: 630), a baseline JPEG at about 20', () => {
    expect(estimateDecodeBytes({ ...base, format: 'heif' }) / MiB).to.be.within(640, 670);
    expect(estimateDecodeBytes(base) / MiB).to.be.within(15, 25);
  });

  it('prices what decodes at full size above what libvips shrinks while decoding', () => {
    const cost = (extra: Partial<DecodeCostInput>) => estimateDecodeBytes({ ...base, ...extra });
    expect(cost({ format: 'png', interlaced: true })).to.be.above(cost({ format: 'png' }));
    expect(cost({ format: 'webp' })).to.be.above(cost({ format: 'webp', lossyWebp: true }));
    expect(cost({ format: 'heif', bitsPerSample: 10 })).to.be.above(cost({ format: 'heif' }));
    expect(cost({ format: 'png', bitsPerSample: 16 })).to.equal(2 * cost({ format: 'png' }) - 4 * MiB);
    expect(cost({ format: 'something-new' })).to.be.at.least(cost({ format: 'heif', bitsPerSample: 10 }));
  });
});
