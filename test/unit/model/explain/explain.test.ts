import { expect } from 'chai';
import sharp from 'sharp';
import { explain, type ExplainPipeline } from '../../../../src/model/explain/explain.js';
import type { Priority } from '../../../../src/model/batcher.js';

const side = 28;
const input = {
  name: 'input', layout: 'NCHW', width: side, height: side, channels: 'RGB',
  scale: 1, mean: [0, 0, 0], std: [1, 1, 1], resize: 'fill',
} as unknown as ExplainPipeline['input'];

/** A 28 × 28 black image with a white 8 × 8 square at (`x`, `y`). */
function squareAt(x: number, y: number): Uint8Array {
  const pixels = new Uint8Array(side * side * 3);
  for (let r = y; r < y + 8; r++) pixels.fill(255, (r * side + x) * 3, (r * side + x + 8) * 3);
  return pixels;
}

/**
 * A pipeline whose "model" says Cat with the share of white left in the image: hiding (blurring)
 * the square lowers it. Records decodes and submissions.
 */
function fakePipeline(pixels: Uint8Array, wave = 8) {
  const seen = { decodes: 0, submits: [] as Priority[] };
  const pipeline: ExplainPipeline = {
    input,
    wave,
    decode: async () => {
      seen.decodes++;
      return pixels;
    },
    submit: async (image, priority) => {
      seen.submits.push(priority);
      let white = 0;
      for (const v of image) white += v / 255;
      return Float32Array.of(white / (64 * 3));
    },
    postprocess: (row) => {
      const cat = Math.min(1, row[0]!);
      return { prediction: 'Cat', values: [cat, 1 - cat], labels: ['Cat', 'Other'] };
    },
  };
  return { pipeline, seen };
}

/** The photo's bytes: only its header is read (for the region); the fake decoder ignores them. */
const photo = (): Promise<Buffer> => sharp({ create: { width: side, height: side, channels: 3, background: '#000' } }).png().toBuffer();

describe('explain (occlusion through the classifier\'s pipeline)', () => {
  it('decodes once, sends the image and one masked copy per cell at low priority, and finds the square', async () => {
    const { pipeline, seen } = fakePipeline(squareAt(20, 0));
    const result = await explain(pipeline, await photo(), { grid: { rows: 7, cols: 7 } });
    expect(seen.decodes).to.equal(1);
    expect(seen.submits).to.have.length(50);
    expect(new Set(seen.submits)).to.deep.equal(new Set(['low']));
    expect(result.passes).to.equal(50);
    expect(result.prediction).to.equal('Cat');
    const cells = result.heatmap.flatMap((row, r) => row.map((value, c) => ({ r, c, value })));
    const highest = cells.reduce((a, b) => (b.value > a.value ? b : a));
    // The square covers columns 5-6 of row 0-1 (cells of 4 pixels).
    expect(highest.r).to.be.at.most(1);
    expect(highest.c).to.be.at.least(5);
    expect(cells.filter((x) => x.r >= 4).every((x) => x.value === 0), 'far from the square nothing changes').to.equal(true);
  });

  it('stops sending waves once the client has gone', async () => {
    const gone = new AbortController();
    const { pipeline, seen } = fakePipeline(squareAt(0, 0), 8);
    const submit = pipeline.submit;
    const stopping: ExplainPipeline = {
      ...pipeline,
      submit: async (image, priority) => {
        if (seen.submits.length === 8) gone.abort(new Error('client closed the connection'));
        return submit(image, priority);
      },
    };
    let error: unknown;
    try {
      await explain(stopping, await photo(), { grid: { rows: 7, cols: 7 }, signal: gone.signal });
    } catch (e) {
      error = e;
    }
    expect((error as Error).message).to.equal('client closed the connection');
    expect(seen.submits.length, 'one more wave at most').to.be.at.most(16);
  });

  it('runs the decode through the caller\'s gate (the uploads\' admission)', async () => {
    const { pipeline } = fakePipeline(squareAt(0, 0));
    let gated = 0;
    await explain(pipeline, await photo(), {
      grid: { rows: 7, cols: 7 },
      decoding: async (decode) => {
        gated++;
        return decode();
      },
    });
    expect(gated).to.equal(1);
  });
});
