/**
 * The real default model, served over HTTP: the course's own test (cat.png → Cat) and the
 * accuracy over the labelled development photos. Needs `make model` (weights) and the
 * workplace's ../shared/data; skipped with a message when the data is not there.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'chai';
import { loadConfig } from '../../src/config.js';
import { evaluate, readLabelledFolder } from '../../src/model/evaluate.js';
import { rootDir } from '../../src/spec.js';
import { uploadForm } from '../fixtures/images.js';
import { expectMatchesSpec, receive } from '../support/contract.js';
import { startService, type RunningService } from '../support/service.js';

const dataDir = path.resolve(rootDir, '..', 'shared', 'data');
// The served default, whatever the configuration names.
const manifestPath = path.join(rootDir, loadConfig({ AUTH_DISABLED: 'true' }).modelManifestPath);

describe('the default model', function () {
  this.timeout(180_000);
  let svc: RunningService;

  before(async function () {
    if (!existsSync(dataDir)) {
      console.warn(`    (skipped: ${dataDir} not found; the labelled photos live in the workplace's shared folder)`);
      this.skip();
    }
    svc = await startService({ model: { manifestPath } });
  });
  after(() => svc?.close());

  it("classifies the course's cat.png as Cat over HTTP", async () => {
    const image = await readFile(path.join(dataDir, 'cat.png'));
    const res = await receive(`${svc.url}/upload`, { method: 'POST', body: uploadForm(image, 'cat.png') });
    expect(res.status, res.text).to.equal(200);
    expectMatchesSpec(svc.api, 'classifyImage', res);
    expect((res.body as { prediction: string }).prediction).to.equal('Cat');
  });

  // The default head was trained on these photos, so this checks that the served pipeline
  // (decoding, resizing, normalisation, the composed graph) matches the one training used; it is
  // not a measure of accuracy on new photos (see `make train`'s cross-validation for that).
  it('is at least 0.85 accurate on the labelled development photos, served as trained', async () => {
    const images = await readLabelledFolder(path.join(dataDir, 'cats-dogs-others'));
    expect(images.length).to.be.greaterThan(50);
    const result = await evaluate(svc.classifier, images);
    console.log(
      `      accuracy ${result.accuracy.toFixed(3)} (${result.correct}/${result.images}), ` +
        `${result.msPerImage.toFixed(1)} ms/image, confusion ${JSON.stringify(result.confusion)}`,
    );
    expect(result.accuracy).to.be.at.least(0.85);
  });
});
