/**
 * The JPEG marker walk counts the scans libjpeg would decode, so that a file of thousands of
 * empty scans is refused before any decoder sees it (issue 17, failure 2).
 */
import { expect } from 'chai';
import sharp from 'sharp';
import type { JpegOptions } from 'sharp';
import { progressiveCoefficientBytes, readJpegStructure } from '../../../../src/model/image/jpeg-structure.js';
import { scanBombJpeg } from '../../../fixtures/costly-images.js';

const photo = (options: JpegOptions, width = 640, height = 480) =>
  sharp({ create: { width, height, channels: 3, background: '#336699', noise: { type: 'gaussian', mean: 128, sigma: 40 } } })
    .jpeg(options)
    .toBuffer();

/** `FF E1` APP1 segment holding `body`, inserted right after SOI. */
function withApp1(jpeg: Buffer, body: Buffer): Buffer {
  const head = Buffer.from([0xff, 0xe1, 0, 0]);
  head.writeUInt16BE(body.length + 2, 2);
  return Buffer.concat([jpeg.subarray(0, 2), head, body, jpeg.subarray(2)]);
}

describe('model/jpeg-structure', () => {
  it('finds one scan in a baseline JPEG and reads its frame header', async () => {
    const s = readJpegStructure(await photo({ quality: 80 }), 100);
    expect(s).to.deep.include({ scans: 1, progressive: false, width: 640, height: 480 });
    expect(s.components.map((c) => [c.horizontalSampling, c.verticalSampling])).to.deep.equal([[2, 2], [1, 1], [1, 1]]);
  });

  it("counts an encoder's progressive scans (about 10)", async () => {
    const s = readJpegStructure(await photo({ quality: 80, progressive: true }), 100);
    expect(s.progressive).to.equal(true);
    expect(s.scans).to.be.within(2, 12);
  });

  it('counts every empty scan of a scan bomb, and stops counting past the limit', async () => {
    const bomb = await scanBombJpeg({ width: 2048, height: 2048, scans: 300 });
    expect(readJpegStructure(bomb, 10_000).scans).to.equal(301);
    expect(readJpegStructure(bomb, 100).scans).to.equal(101);
  });

  it('skips segments by their length, as libjpeg does: an EXIF thumbnail with its own scan is not counted', async () => {
    const thumbnail = await photo({ quality: 50, progressive: true }, 80, 60);
    const jpeg = withApp1(await photo({ quality: 80 }), Buffer.concat([Buffer.from('Exif\0\0'), thumbnail]));
    expect(readJpegStructure(jpeg, 100).scans).to.equal(1);
  });

  it('finds scans behind fill bytes and garbage between segments, where libjpeg finds them', async () => {
    const jpeg = await photo({ quality: 80 });
    const sos = jpeg.indexOf(Buffer.from([0xff, 0xda]));
    const padded = Buffer.concat([jpeg.subarray(0, sos), Buffer.from([0x12, 0x34, 0xff, 0xff, 0xff]), jpeg.subarray(sos)]);
    expect(readJpegStructure(padded, 100).scans).to.equal(1);
  });

  it('never throws on truncated or garbage data', async () => {
    const jpeg = await photo({ quality: 80, progressive: true });
    for (let end = 0; end < 400; end += 7) expect(() => readJpegStructure(jpeg.subarray(0, end), 100)).not.to.throw();
    expect(readJpegStructure(Buffer.from([0xff, 0xd8, 0xff, 0xc0, 0x00]), 100).scans).to.equal(0);
    expect(readJpegStructure(Buffer.from('not a jpeg'), 100).scans).to.equal(0);
  });

  it("sizes libjpeg's coefficient buffer from the frame: 2 bytes per sample, chroma subsampled", async () => {
    const s = readJpegStructure(await photo({ quality: 80, progressive: true }), 100);
    // 4:2:0: 80 × 60 luma blocks and 40 × 30 blocks of each chroma component, 128 bytes each.
    expect(progressiveCoefficientBytes(s)).to.equal((80 * 60 + 2 * 40 * 30) * 128);
  });
});
