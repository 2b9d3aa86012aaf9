import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { LabelsError, parseLabelEntries, readLabels } from '../../../tools/training/labels.js';

const LABELS = ['Cat', 'Dog', 'Other'];

describe('tools/training/labels', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'labels-'));
    for (const f of ['a.png', 'b.png', 'c.png']) await writeFile(path.join(dir, f), 'x');
  });

  it('reads labels.json entries, matching labels case-insensitively', async () => {
    const file = path.join(dir, 'labels.json');
    await writeFile(file, JSON.stringify([{ file: 'a.png', label: 'cat' }, { file: 'b.png', label: 'DOG' }, { file: 'c.png', label: 'Other' }]));
    const images = await readLabels(file, dir, LABELS);
    expect(images.map((i) => i.label)).to.deep.equal([0, 1, 2]);
    expect(images[0]!.file).to.equal(path.join(dir, 'a.png'));
  });

  it("reads the course's labelling export, finding images by base name", async () => {
    const file = path.join(dir, 'export.json');
    const annotations = [
      { fileName: 'uploads/a.png', annotation: { label: 'dog' } },
      { fileName: 'c.png', annotation: { label: 'cat' } },
    ];
    await writeFile(file, JSON.stringify({ annotations }));
    const images = await readLabels(file, dir, LABELS);
    expect(images).to.deep.equal([{ file: path.join(dir, 'a.png'), label: 1 }, { file: path.join(dir, 'c.png'), label: 0 }]);
  });

  it('reports every unknown label and missing image at once', async () => {
    const file = path.join(dir, 'bad.json');
    await writeFile(file, JSON.stringify([{ file: 'a.png', label: 'horse' }, { file: 'missing.png', label: 'cat' }]));
    try {
      await readLabels(file, dir, LABELS);
      expect.fail('should throw');
    } catch (err) {
      expect(err).to.be.instanceOf(LabelsError);
      expect((err as Error).message).to.match(/horse/).and.match(/missing\.png/);
    }
  });

  it('recognises neither format in other JSON', () => {
    expect(parseLabelEntries({ images: [] })).to.equal(undefined);
  });
});
