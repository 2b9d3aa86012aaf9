import { expect } from 'chai';
import sharp from 'sharp';
import { heatColour, heatLevels } from '../../../../src/model/explain/heat-colours.js';
import { coverage, gridFor, heatmap, occlude, occlusionWindows, passesOf } from '../../../../src/model/explain/occlusion.js';
import { overlayPng } from '../../../../src/model/explain/overlay.js';

describe('occlusion', () => {
  it('takes the largest square grid the pass budget holds, never under 7 × 7', () => {
    expect(gridFor(64)).to.deep.equal({ rows: 7, cols: 7 });
    expect(passesOf(gridFor(64))).to.equal(50);
    expect(gridFor(82)).to.deep.equal({ rows: 9, cols: 9 });
    expect(() => gridFor(49)).to.throw(RangeError, /at least 50/);
  });

  it('hides, for each cell, the 3 × 3 cells centred on it, clipped to the image', () => {
    const windows = occlusionWindows(224, 224, { rows: 7, cols: 7 });
    expect(windows).to.have.length(49);
    expect(windows[0]).to.deep.equal({ left: 0, top: 0, right: 64, bottom: 64 });
    expect(windows[3 * 7 + 3]).to.deep.equal({ left: 64, top: 64, right: 160, bottom: 160 });
    expect(windows[48]).to.deep.equal({ left: 160, top: 160, right: 224, bottom: 224 });
    // Every pixel is hidden by at least one window.
    const covered = new Uint8Array(224 * 224);
    for (const w of windows) for (let y = w.top; y < w.bottom; y++) covered.fill(1, y * 224 + w.left, y * 224 + w.right);
    expect(covered.every((v) => v === 1)).to.equal(true);
  });

  it('replaces the window, and only the window, with the fill', () => {
    const width = 4;
    const image = new Uint8Array(4 * 3 * 3).fill(10);
    const fill = new Uint8Array(image.length).fill(200);
    const out = occlude(image, fill, width, { left: 1, top: 1, right: 3, bottom: 2 });
    const at = (x: number, y: number): number[] => [...out.subarray((y * width + x) * 3, (y * width + x) * 3 + 3)];
    expect(at(1, 1)).to.deep.equal([200, 200, 200]);
    expect(at(2, 1)).to.deep.equal([200, 200, 200]);
    expect(at(0, 1)).to.deep.equal([10, 10, 10]);
    expect(at(3, 1)).to.deep.equal([10, 10, 10]);
    expect(at(1, 0)).to.deep.equal([10, 10, 10]);
    expect(at(1, 2)).to.deep.equal([10, 10, 10]);
    expect(image.every((v) => v === 10), 'the original is untouched').to.equal(true);
  });

  it('turns masked probabilities into drops, row by row', () => {
    const grid = { rows: 2, cols: 3 };
    expect(heatmap(0.9, [0.9, 0.1, 0.5, 0.95, 0.9, 0.3], grid)).to.deep.equal([
      [0, 0.8, 0.4],
      [-0.05, 0, 0.6],
    ]);
    expect(() => heatmap(0.9, [0.1], grid)).to.throw(RangeError);
  });

  it('knows which part of the photo the model sees for each resize mode', () => {
    expect(coverage(400, 200, 224, 224, 'fill')).to.deep.equal({ left: 0, top: 0, width: 1, height: 1 });
    // Landscape, cropped to its centre square.
    expect(coverage(400, 200, 224, 224, 'cover')).to.deep.equal({ left: 0.25, top: 0, width: 0.5, height: 1 });
    // Letterboxed: the input reaches above and below the photo.
    expect(coverage(400, 200, 224, 224, 'contain')).to.deep.equal({ left: 0, top: -0.5, width: 1, height: 2 });
  });
});

describe('heatmap colours', () => {
  it('leaves cells that did not lower the answer clear, the strongest one red', () => {
    expect(heatLevels([[0.4, 0.2], [-0.1, 0]])).to.deep.equal([[1, 0.5], [0, 0]]);
    // Drops of a few per cent are not blown up to full strength.
    expect(heatLevels([[0.05, 0]])[0]![0]).to.equal(0.5);
    expect(heatColour(0)[3]).to.equal(0);
    expect(heatColour(1)).to.deep.equal([0xb9, 0x1c, 0x1c, 166]);
  });
});

describe('overlay PNG', () => {
  const photo = (width: number, height: number): Promise<Buffer> =>
    sharp({ create: { width, height, channels: 3, background: { r: 0, g: 0, b: 255 } } }).png().toBuffer();
  const pixel = async (png: Buffer, x: number, y: number): Promise<number[]> => {
    const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    const at = (y * info.width + x) * info.channels;
    return [...data.subarray(at, at + 3)];
  };
  const hotCorner = [[1, 0, 0], [0, 0, 0], [0, 0, 0]];

  it('is the photo at its size, red over the hot cell, untouched over cold ones', async () => {
    const png = await overlayPng(await photo(90, 60), hotCorner, coverage(90, 60, 224, 224, 'fill'), { maxSide: 640, maxImagePixels: 1e6 });
    const meta = await sharp(png).metadata();
    expect([meta.format, meta.width, meta.height]).to.deep.equal(['png', 90, 60]);
    const hot = await pixel(png, 2, 2);
    expect(hot[0], 'red over the hot cell').to.be.greaterThan(100);
    expect(await pixel(png, 85, 55), 'the photo over a cold cell').to.deep.equal([0, 0, 255]);
  });

  it('shrinks large photos to maxSide and lays the heatmap over the part the model saw', async () => {
    // Cover: the model saw the centre square of a 1000 × 500 photo.
    const png = await overlayPng(await photo(1000, 500), hotCorner, coverage(1000, 500, 224, 224, 'cover'), { maxSide: 400, maxImagePixels: 1e7 });
    const meta = await sharp(png).metadata();
    expect([meta.width, meta.height]).to.deep.equal([400, 200]);
    expect((await pixel(png, 5, 5))[0], 'left of the square: not seen, not coloured').to.equal(0);
    expect((await pixel(png, 105, 5))[0], 'the square\'s top-left cell').to.be.greaterThan(100);
  });

  it('clips the heatmap to the photo when the model saw more than the photo (contain)', async () => {
    const png = await overlayPng(await photo(200, 100), hotCorner, coverage(200, 100, 224, 224, 'contain'), { maxSide: 640, maxImagePixels: 1e6 });
    const meta = await sharp(png).metadata();
    expect([meta.width, meta.height]).to.deep.equal([200, 100]);
  });
});
