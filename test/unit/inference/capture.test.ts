/**
 * The inference core's ids and capture port (src/inference/core.ts, capture.ts): every answer
 * gets an inference id, a call that says where it comes from is offered to the sink when drawn,
 * the images of a batch are addressed `<id>/<index>`, an opt-out or a failing sink changes nothing
 * of the answer.
 */
import { rm } from 'node:fs/promises';
import { expect } from 'chai';
import { configDefaults } from '../../../src/config/config.js';
import { captureAddress, INFERENCE_ID, type CaptureRecord, type CaptureSink } from '../../../src/inference/capture.js';
import { createInferenceCore, type InferenceCore } from '../../../src/inference/core.js';
import { loadClassifier, type Classifier } from '../../../src/model/classifier.js';
import { loadManifest, type Manifest } from '../../../src/model/manifest.js';
import { createStaticRepository } from '../../../src/repository/static.js';
import { solidImage } from '../../fixtures/images.js';
import { buildCourseVggLikeModel, courseVggLikeManifest } from '../../fixtures/onnx-models.js';
import { writeFixtureModel } from '../../support/service.js';

/** A sink that keeps what it is offered; `draw` says what `sample` answers. */
function recordingSink(draw: () => boolean = () => true): CaptureSink & { offered: CaptureRecord[][] } {
  const offered: CaptureRecord[][] = [];
  return { offered, sample: draw, offer: (records) => void offered.push([...records]) };
}

describe('inference ids and the capture port', function () {
  this.timeout(30_000);
  let dir: string;
  let classifier: Classifier;
  let manifest: Manifest;
  let red: Buffer;
  let green: Buffer;

  before(async () => {
    const written = await writeFixtureModel({ bytes: buildCourseVggLikeModel(), manifest: courseVggLikeManifest });
    dir = written.dir;
    manifest = await loadManifest(written.manifestPath);
    classifier = await loadClassifier(manifest, { maxImagePixels: 40_000_000 }, { workers: 0 });
    red = await solidImage('red');
    green = await solidImage('green');
  });
  after(async () => {
    await classifier?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const coreWith = (capture?: CaptureSink): InferenceCore => {
    const defaults = configDefaults();
    return createInferenceCore({
      repository: createStaticRepository({ name: 'catdog', manifest, classifier }),
      admission: defaults.admission,
      explain: defaults.explain,
      ...(capture ? { capture } : {}),
    });
  };
  const origin = { source: 'upload', subject: 'client-1', requestId: 'req-1' } as const;

  it('addresses the image of a call of one by its id, those of a batch by <id>/<index>', () => {
    expect(captureAddress('abc', 0, 1)).to.equal('abc');
    expect(captureAddress('abc', 2, 3)).to.equal('abc/2');
  });

  it('answers every classification under a new inference id fit to address a capture', async () => {
    const core = coreWith();
    const a = await core.classify({}, red);
    const b = await core.classify({}, red);
    expect(a.id).to.match(INFERENCE_ID);
    expect(a.id).to.not.equal(b.id);
  });

  it('offers the answer, its image, model, version, timing and origin to the sink under its id', async () => {
    const sink = recordingSink();
    const { id, result } = await coreWith(sink).classify({}, red, { origin });
    expect(sink.offered).to.have.length(1);
    const [record] = sink.offered[0]!;
    expect(record).to.deep.include({ id, origin, model: 'catdog', version: '1', prediction: result.prediction });
    expect(record!.modelName).to.equal(classifier.name);
    expect(record!.values).to.deep.equal(result.values);
    expect(record!.labels).to.deep.equal(result.labels);
    expect(record!.elapsedMs).to.be.a('number');
    expect(Buffer.from(record!.image).equals(red)).to.equal(true);
  });

  it('offers nothing for a call that opts out, says no origin, or is not drawn', async () => {
    const drawn = recordingSink();
    const core = coreWith(drawn);
    await core.classify({}, red, { origin, capture: false });
    await core.classify({}, red);
    expect(drawn.offered).to.deep.equal([]);
    const notDrawn = recordingSink(() => false);
    await coreWith(notDrawn).classify({}, red, { origin });
    expect(notDrawn.offered).to.deep.equal([]);
  });

  it('answers even when the sink throws', async () => {
    const sink: CaptureSink = { sample: () => true, offer: () => { throw new Error('disk on fire'); } };
    const { result } = await coreWith(sink).classify({}, red, { origin });
    expect(result.prediction).to.be.a('string');
  });

  it('answers a batch under the plan\'s own id when it can address captures, each image as <id>/<index>', async () => {
    const sink = recordingSink();
    const core = coreWith(sink);
    const batch = await core.classifyBatch({}, () => ({ id: 'batch-7', batch: { kind: 'images' as const, images: [red, green] } }), { origin: { source: 'v2' } });
    expect(batch.id).to.equal('batch-7');
    expect(sink.offered[0]!.map((r) => r.id)).to.deep.equal(['batch-7/0', 'batch-7/1']);
    expect(sink.offered[0]!.map((r) => r.prediction)).to.deep.equal(batch.results.map((r) => r.prediction));
    expect(Buffer.from(sink.offered[0]![1]!.image).equals(green)).to.equal(true);

    const one = await core.classifyBatch({}, () => ({ id: 'single', batch: { kind: 'images' as const, images: [red] } }), { origin: { source: 'v2' } });
    expect(sink.offered[1]!.map((r) => r.id)).to.deep.equal([one.id]);
    expect(one.id).to.equal('single');
  });

  it('makes an id for a plan without one, or with one unfit for an address (a slash, 129 characters)', async () => {
    const core = coreWith();
    const plan = (id: string | undefined) => () => ({ id, batch: { kind: 'images' as const, images: [red] } });
    for (const given of [undefined, '', 'a/b', 'x'.repeat(129), 'héllo']) {
      const { id } = await core.classifyBatch({}, plan(given));
      expect(id, String(given)).to.match(INFERENCE_ID);
      expect(id).to.not.equal(given);
    }
  });

  it('captures no tensor batch: there is no image to keep', async () => {
    const sink = recordingSink();
    const row = new Float32Array(3 * 224 * 224);
    const { id } = await coreWith(sink).classifyBatch({}, () => ({ batch: { kind: 'tensors' as const, rows: [row] } }), { origin: { source: 'v2' } });
    expect(id).to.match(INFERENCE_ID);
    expect(sink.offered).to.deep.equal([]);
  });
});
