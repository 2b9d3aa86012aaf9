/**
 * The heatmap of POST /explain with the real default model points at the object: a photo of a
 * cat (the course's cat.png, shrunk) pasted in one corner of a plain canvas gets its highest
 * cells over the cat, whichever corner and background. Needs `make model` (weights).
 */
import { readFile } from 'node:fs/promises';
import { expect } from 'chai';
import sharp from 'sharp';
import { catImagePath } from '../fixtures/course-images.js';
import { uploadForm } from '../fixtures/images.js';
import { expectMatchesSpec, receive } from '../support/contract.js';
import { defaultModelManifest, startService, type RunningService } from '../support/service.js';

const manifestPath = defaultModelManifest;

/** A `side`-pixel square canvas of `background` with the cat, `catSide` pixels square, in `corner`. */
async function catInCorner(corner: 'nw' | 'ne' | 'sw' | 'se', background: string, side = 480, catSide = 200): Promise<Buffer> {
  const cat = await sharp(await readFile(catImagePath)).resize(catSide, catSide, { fit: 'cover' }).toBuffer();
  return sharp({ create: { width: side, height: side, channels: 3, background } })
    .composite([{ input: cat, left: corner.endsWith('w') ? 0 : side - catSide, top: corner.startsWith('n') ? 0 : side - catSide }])
    .png()
    .toBuffer();
}

interface Heatmap {
  rows: number;
  cols: number;
  values: number[][];
  region: { left: number; top: number; width: number; height: number };
}

describe('POST /explain with the default model', function () {
  this.timeout(120_000);
  let svc: RunningService;
  before(async () => {
    svc = await startService({ model: { manifestPath } });
  });
  after(() => svc?.close());

  for (const [corner, background] of [['nw', '#ffffff'], ['se', '#ffffff'], ['ne', '#808080'], ['sw', '#d9c7a7']] as const) {
    it(`puts the highest cells over a cat in the ${corner} corner of a plain ${background} canvas`, async () => {
      const res = await receive(`${svc.url}/explain`, { method: 'POST', body: uploadForm(await catInCorner(corner, background), 'cat-corner.png') });
      expect(res.status, res.text).to.equal(200);
      expectMatchesSpec(svc.api, 'explainImage', res);
      const { prediction, heatmap } = res.body as { prediction: string; heatmap: Heatmap };
      expect(prediction).to.equal('Cat');
      // The cat covers 200 of 480 pixels: the first 3 of 7 cells from its corner (a square
      // photo under a square input: the grid covers all of it).
      expect(heatmap.region).to.deep.equal({ left: 0, top: 0, width: 1, height: 1 });
      const near = (i: number, n: number, start: boolean): boolean => (start ? i < 3 : i >= n - 3);
      const overCat = (r: number, c: number): boolean =>
        near(r, heatmap.rows, corner.startsWith('n')) && near(c, heatmap.cols, corner.endsWith('w'));
      const cells = heatmap.values.flatMap((row, r) => row.map((value, c) => ({ r, c, value })));
      const highest = cells.reduce((a, b) => (b.value > a.value ? b : a));
      expect(overCat(highest.r, highest.c), `highest cell (${highest.r}, ${highest.c}) = ${highest.value}`).to.equal(true);
      // And the cat's cells as a whole, not one lucky cell.
      const mean = (list: typeof cells): number => list.reduce((s, x) => s + x.value, 0) / list.length;
      const cat = cells.filter((x) => overCat(x.r, x.c));
      const rest = cells.filter((x) => !overCat(x.r, x.c));
      expect(mean(cat)).to.be.greaterThan(mean(rest) + 0.1);
      expect(Math.max(...rest.map((x) => x.value))).to.be.lessThan(highest.value);
    });
  }

  it("covers the centre of a wide photo (the model crops to a square), and finds cat.png's cat", async () => {
    const res = await receive(`${svc.url}/explain`, { method: 'POST', body: uploadForm(await readFile(catImagePath), 'cat.png') });
    expect(res.status, res.text).to.equal(200);
    const { prediction, heatmap } = res.body as { prediction: string; heatmap: Heatmap };
    expect(prediction).to.equal('Cat');
    const { width, height } = await sharp(await readFile(catImagePath)).metadata();
    expect(width).to.be.greaterThan(height);
    expect(heatmap.region.top).to.equal(0);
    expect(heatmap.region.height).to.equal(1);
    expect(heatmap.region.width).to.be.closeTo(height / width, 1e-3);
    expect(heatmap.region.left).to.be.closeTo((1 - height / width) / 2, 1e-3);
    // Hiding some part of the cat lowers the answer by several points.
    expect(Math.max(...heatmap.values.flat())).to.be.greaterThan(0.1);
  });
});
