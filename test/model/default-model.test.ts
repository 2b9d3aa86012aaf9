/**
 * The real default model, served over HTTP: the course's own test (resources/samples/cat.png →
 * Cat) and the accuracy over the labelled development photos. Needs `make model` (weights); the
 * photos are `TRAIN_DATA`'s (test/support/external.ts), and their tests are skipped with a message where it
 * is not there (a fork's CI).
 */
import { readFile } from 'node:fs/promises';
import { expect } from 'chai';
import { loadClassifier } from '../../src/model/classifier.js';
import { evaluate, readLabelledFolder } from '../../tools/evaluate.js';
import { loadManifest } from '../../src/model/manifest.js';
import { catImagePath } from '../fixtures/course-images.js';
import { uploadForm } from '../fixtures/images.js';
import { expectMatchesSpec, receive } from '../support/contract.js';
import { need } from '../support/external.js';
import { defaultModelManifest, startService, type RunningService } from '../support/service.js';

// The served default: version 1 of the repository's default model, as `make model` builds it.
const manifestPath = defaultModelManifest;

describe('the default model', function () {
  this.timeout(180_000);
  let svc: RunningService;

  before(async () => {
    svc = await startService({ model: { manifestPath } });
  });
  after(() => svc?.close());


  it("classifies the course's cat.png as Cat over HTTP", async () => {
    const image = await readFile(catImagePath);
    const res = await receive(`${svc.url}/upload`, { method: 'POST', body: uploadForm(image, 'cat.png') });
    expect(res.status, res.text).to.equal(200);
    expectMatchesSpec(svc.api, 'classifyImage', res);
    expect((res.body as { prediction: string }).prediction).to.equal('Cat');
  });

  // The default head was trained on these photos, so this checks that the served pipeline
  // (decoding, resizing, normalisation, the composed graph) matches the one training used; it is
  // not a measure of accuracy on new photos (see `make train`'s cross-validation for that).
  it('is at least 0.85 accurate on the labelled development photos, served as trained', async function () {
    const images = await readLabelledFolder(need(this, 'photos'));
    expect(images.length).to.be.greaterThan(50);
    const result = await evaluate(svc.classifier, images);
    console.log(
      `      accuracy ${result.accuracy.toFixed(3)} (${result.correct}/${result.images}), ` +
        `${result.msPerImage.toFixed(1)} ms/image, confusion ${JSON.stringify(result.confusion)}`,
    );
    expect(result.accuracy).to.be.at.least(0.85);
  });

  // The head was trained on features from the exact float32 form; the served int8 graph gives
  // them only if onnxruntime's int8 kernels are exact on this CPU (src/model/int8/kernels.ts).
  it('answers bit for bit the same with its int8 weights as chosen for this CPU and re-typed as uint8', async function () {
    const images = await readLabelledFolder(need(this, 'photos'));
    const manifest = await loadManifest(manifestPath);
    const unsigned = await loadClassifier(manifest, { maxImagePixels: 40_000_000 }, { int8Weights: 'unsigned' });
    try {
      expect(unsigned.int8Weights).to.equal('unsigned');
      let identical = 0;
      for (const image of images) {
        const bytes = await readFile(image.file);
        const [a, b] = await Promise.all([svc.classifier.classify(bytes), unsigned.classify(bytes)]);
        if (a.values.every((v, i) => Object.is(v, b.values[i]))) identical++;
      }
      console.log(`      INT8_WEIGHTS=auto chose ${svc.classifier.int8Weights} on this CPU; ${identical}/${images.length} identical`);
      expect(identical).to.equal(images.length);
    } finally {
      await unsigned.close();
    }
  });
});
