/**
 * What is refused from the header alone, before any decoder runs, and what decoding the rest will
 * cost (issue 17, failures 2 and 3).
 */
import { expect } from 'chai';
import sharp from 'sharp';
import { ImageTooComplex, ImageTooLarge, ImageUndecodable } from '../../../../src/errors.js';
import { estimateDecodeBytes, type DecodeCostInput } from '../../../../src/model/image/decode-cost.js';
import { inspectImage, type HeaderLimits } from '../../../../src/model/image/header.js';
import { readJpegStructure } from '../../../../src/model/image/jpeg-structure.js';
import { readPngHeader } from '../../../../src/model/image/png-header.js';
import { crc32 } from 'node:zlib';
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

  /** `png` with a chunk of `type` and `data` inserted right after its IHDR. */
  function withChunkAfterHeader(png: Buffer, type: string, data: number[]): Buffer {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), Buffer.from(data)]);
    const chunk = Buffer.alloc(12 + data.length);
    chunk.writeUInt32BE(data.length, 0);
    body.copy(chunk, 4);
    chunk.writeUInt32BE(crc32(body), 8 + data.length);
    return Buffer.concat([png.subarray(0, 33), chunk, png.subarray(33)]);
  }

  it('reads PNG and JPEG headers itself, to the same format, size and decode cost as sharp reads them', async () => {
    const rgb = () => sharp({ create: { width: 301, height: 203, channels: 3, background: '#3a7f2c' } });
    const rgba = () => sharp({ create: { width: 301, height: 203, channels: 4, background: { r: 9, g: 99, b: 199, alpha: 0.5 } } });
    const rgbPng = await rgb().png().toBuffer();
    const greyPng = await rgb().toColourspace('b-w').png().toBuffer();
    const images: Record<string, Buffer> = {
      'RGB PNG': rgbPng,
      'RGBA PNG': await rgba().png().toBuffer(),
      'grey PNG': greyPng,
      'grey + alpha PNG': await rgba().toColourspace('b-w').png().toBuffer(),
      '16-bit RGB PNG': await rgb().toColourspace('rgb16').png().toBuffer(),
      'palette PNG': await rgb().png({ palette: true }).toBuffer(),
      'palette PNG with transparency': await rgba().png({ palette: true }).toBuffer(),
      '1-bit palette PNG': await rgb().png({ palette: true, colours: 2 }).toBuffer(),
      'interlaced PNG': await rgb().png({ progressive: true }).toBuffer(),
      'RGB PNG with a tRNS colour': withChunkAfterHeader(rgbPng, 'tRNS', [0, 1, 0, 2, 0, 3]),
      'grey PNG with a tRNS level': withChunkAfterHeader(greyPng, 'tRNS', [0, 7]),
      'baseline JPEG': await rgb().jpeg().toBuffer(),
      'progressive 4:4:4 JPEG': await rgb().jpeg({ progressive: true, chromaSubsampling: '4:4:4' }).toBuffer(),
      'grey JPEG': await rgb().toColourspace('b-w').jpeg().toBuffer(),
    };
    for (const [name, bytes] of Object.entries(images)) {
      const meta = await sharp(bytes).metadata();
      const expected = {
        format: meta.format,
        width: meta.width,
        height: meta.height,
        decodeBytes: estimateDecodeBytes({
          format: meta.format,
          width: meta.width,
          height: meta.height,
          channels: meta.channels,
          bitsPerSample: meta.bitsPerSample ?? 8,
          interlaced: meta.isProgressive,
          jpeg: meta.format === 'jpeg' ? readJpegStructure(bytes, limits.maxJpegScans) : undefined,
        }),
      };
      expect(await inspectImage(bytes, limits), name).to.deep.equal(expected);
      // Read without sharp: the PNG reader vouches for every PNG here (the JPEGs' frame headers are complete).
      if (meta.format === 'png') expect(readPngHeader(bytes)?.channels, name).to.equal(meta.channels);
    }
  });

  it('leaves a PNG header it does not vouch for to sharp: an impossible size is refused, a wrong CRC read as sharp reads it', async () => {
    const png = await grey(64, 64).png().toBuffer();
    const zeroWidth = withChunkAfterHeader(png, 'tEXt', [0x61, 0, 0x62]);
    zeroWidth.writeUInt32BE(0, 16);
    zeroWidth.writeUInt32BE(crc32(zeroWidth.subarray(12, 29)), 29);
    expect(await refusal(inspectImage(zeroWidth, limits))).to.be.instanceOf(ImageUndecodable);
    // libpng only warns about a wrong CRC (the decode, with failOn 'error', goes on): so does the header check.
    const badCrc = Buffer.from(png);
    badCrc[32] = badCrc[32]! ^ 0xff;
    expect(readPngHeader(badCrc), 'left to sharp').to.equal(undefined);
    expect(await inspectImage(badCrc, limits)).to.deep.include({ format: 'png', width: 64, height: 64 });
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
