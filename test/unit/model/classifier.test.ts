import { expect } from 'chai';
import { rm } from 'node:fs/promises';
import { ImageUndecodable } from '../../../src/errors.js';
import { loadClassifier, type Classifier } from '../../../src/model/classifier.js';
import { loadManifest, ManifestError, parseManifest } from '../../../src/model/manifest.js';
import { solidImage } from '../../fixtures/images.js';
import { buildImagenetLikeModel, imagenetLikeManifest } from '../../fixtures/onnx-models.js';
import { writeFixtureModel } from '../../support/service.js';

describe('loadClassifier: a model that cannot be served', () => {
  it('refuses a missing model file: code model-unreadable, the file system error as cause', async () => {
    const manifest = parseManifest(imagenetLikeManifest('absent.onnx', 'a'.repeat(64)), '/nonexistent/manifest.json');
    const err = await loadClassifier(manifest, { maxImagePixels: 1_000_000 }).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(ManifestError).with.property('code', 'model-unreadable');
    expect((err as Error).cause).to.have.property('code', 'ENOENT');
  });

  it('refuses a model file whose SHA-256 differs from the manifest: code model-checksum-mismatch', async () => {
    const { dir, manifestPath } = await writeFixtureModel({ bytes: buildImagenetLikeModel(), manifest: (file) => imagenetLikeManifest(file, 'b'.repeat(64)) });
    try {
      const err = await loadClassifier(await loadManifest(manifestPath), { maxImagePixels: 1_000_000 }).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(ManifestError).with.property('code', 'model-checksum-mismatch');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('loadClassifier: worker threads and batching', () => {
  let dir: string;
  let manifestPath: string;
  before(async () => {
    ({ dir, manifestPath } = await writeFixtureModel({ bytes: buildImagenetLikeModel(), manifest: imagenetLikeManifest }));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  for (const workers of [0, 1, 2]) {
    describe(`with ${workers} inference worker${workers === 1 ? '' : 's'}`, () => {
      let classifier: Classifier;
      before(async () => {
        classifier = await loadClassifier(
          await loadManifest(manifestPath),
          { maxImagePixels: 1_000_000 },
          { workers, batchMaxSize: 4 },
        );
      });
      after(() => classifier.close());

      it('answers each of many concurrent callers with its own image’s class', async () => {
        const colours = ['red', 'green', 'blue', 'green', 'red', 'blue', 'blue', 'red', 'green', 'red'] as const;
        const images = await Promise.all(colours.map((c) => solidImage(c)));
        const results = await Promise.all(images.map((image) => classifier.classify(image)));
        const expected = { red: 'Cat', green: 'Dog', blue: 'Other' };
        expect(results.map((r) => r.prediction)).to.deep.equal(colours.map((c) => expected[c]));
      });

      it('fails an undecodable image alone; the images sent with it are answered', async () => {
        const [red, blue] = await Promise.all([solidImage('red'), solidImage('blue')]);
        const settled = await Promise.allSettled([
          classifier.classify(red),
          classifier.classify(Buffer.from('not an image')),
          classifier.classify(blue),
        ]);
        expect(settled.map((s) => s.status)).to.deep.equal(['fulfilled', 'rejected', 'fulfilled']);
        expect((settled[1] as PromiseRejectedResult).reason).to.be.instanceOf(ImageUndecodable);
        expect((settled[2] as PromiseFulfilledResult<{ prediction: string }>).value.prediction).to.equal('Other');
      });
    });
  }
});
