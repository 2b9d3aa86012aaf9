/**
 * The core's traffic between versions (src/inference/traffic.ts): the canary's split is the share
 * asked for and the same for a client every time; the shadow classifies with spare capacity only,
 * is shed when the gate is busy, and is never waited for by the answer.
 */
import { rm } from 'node:fs/promises';
import { expect } from 'chai';
import { createAdmission } from '../../../src/inference/admission.js';
import { createShadowRunner, inCanary, spareSlotsOf, type ShadowComparison, type ShadowSkip } from '../../../src/inference/traffic.js';
import { loadClassifier, type Classifier } from '../../../src/model/classifier.js';
import { loadManifest, type Manifest } from '../../../src/model/manifest.js';
import { createStaticRepository } from '../../../src/repository/static.js';
import type { ServedModel } from '../../../src/repository/types.js';
import { solidImage } from '../../fixtures/images.js';
import { buildCourseVggLikeModel, courseVggLikeManifest } from '../../fixtures/onnx-models.js';
import { writeFixtureModel } from '../../support/service.js';

describe('canary split', () => {
  it('sends the share asked for of many clients, each always the same way', () => {
    for (const percent of [1, 10, 20, 50, 90]) {
      const clients = Array.from({ length: 20_000 }, (_, i) => `token:user-${i}`);
      const share = clients.filter((c) => inCanary('catdog', c, percent)).length / clients.length;
      expect(share * 100, `${percent} %`).to.be.closeTo(percent, 1);
      expect(clients.slice(0, 500).every((c) => inCanary('catdog', c, percent) === inCanary('catdog', c, percent))).to.equal(true);
    }
    // Another model splits the same clients otherwise: a client is not in every canary at once.
    const a = Array.from({ length: 1_000 }, (_, i) => inCanary('catdog', `address:10.0.0.${i}`, 50));
    const b = Array.from({ length: 1_000 }, (_, i) => inCanary('imagenet-grouped', `address:10.0.0.${i}`, 50));
    expect(a.filter((x, i) => x !== b[i]).length).to.be.within(400, 600);
  });

  it('0 and 100 % are none and all; a call naming no client is drawn each time', () => {
    expect(inCanary('catdog', 'token:alice', 0)).to.equal(false);
    expect(inCanary('catdog', 'token:alice', 100)).to.equal(true);
    expect(inCanary('catdog', undefined, 20, () => 0.1)).to.equal(true);
    expect(inCanary('catdog', '', 20, () => 0.3)).to.equal(false);
  });
});

describe('shadow runner', function () {
  this.timeout(30_000);
  let dir: string;
  let classifier: Classifier;
  let manifest: Manifest;
  let red: Buffer;

  before(async () => {
    const written = await writeFixtureModel({ bytes: buildCourseVggLikeModel(), manifest: courseVggLikeManifest });
    dir = written.dir;
    manifest = await loadManifest(written.manifestPath);
    classifier = await loadClassifier(manifest, { maxImagePixels: 40_000_000 }, { workers: 0 });
    red = await solidImage('red');
  });
  after(async () => {
    await classifier?.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** A runner whose candidate is version 2 of `catdog` (the fixture model), on a gate of `maxInflight` slots. */
  function runner(maxInflight: number, sampleRate = 1) {
    const admission = createAdmission({ maxInflight, maxQueue: 4, retryAfterSeconds: 1 });
    const candidate = createStaticRepository({ name: 'catdog', version: '2', manifest, classifier });
    const compared: ShadowComparison[] = [];
    const skipped: ShadowSkip[] = [];
    const shadows = createShadowRunner({
      repository: candidate,
      admission,
      maxInflight,
      settings: { sampleRate },
      cores: 8,
      compared: (c) => compared.push(c),
      skipped: (s) => skipped.push(s.reason),
    });
    const serving: ServedModel = { name: 'catdog', version: '1', manifest, classifier };
    return { admission, shadows, compared, skipped, serving };
  }
  const until = async (condition: () => boolean): Promise<void> => {
    for (let i = 0; i < 500 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(condition()).to.equal(true);
  };

  it('classifies after the answer when the gate is idle, and reports the comparison', async () => {
    const { shadows, compared, skipped, serving } = runner(2);
    const result = await classifier.classify(red);
    // Kept: its bytes outlive the request, which must not release them.
    expect(shadows.offer(serving, '2', [{ image: red, result }])).to.equal(true);
    // Offered, not run: the caller goes on at once.
    expect(compared).to.deep.equal([]);
    await until(() => compared.length === 1);
    expect(compared[0]).to.deep.include({ name: 'catdog', servingVersion: '1', candidateVersion: '2', serving: result });
    expect(compared[0]!.shadow.prediction).to.equal('Cat');
    expect(skipped).to.deep.equal([]);
  });

  it('is shed, first and at once, when the gate has no spare capacity: as many running as half the cores (or a quarter of the slots), or a request waiting', async () => {
    const { admission, shadows, compared, skipped, serving } = runner(1);
    const result = await classifier.classify(red);
    let release: () => void = () => {};
    const held = admission.run(() => new Promise<void>((resolve) => (release = resolve)));
    // Shed, not kept: the request may release the bytes.
    expect(shadows.offer(serving, '2', [{ image: red, result }, { image: red, result }])).to.equal(false);
    expect(skipped).to.deep.equal(['busy', 'busy']);
    // Nor while a request waits at the gate.
    const waiting = admission.run(() => Promise.resolve());
    expect(admission.queued).to.equal(1);
    shadows.offer(serving, '2', [{ image: red, result }]);
    expect(skipped).to.deep.equal(['busy', 'busy', 'busy']);
    release();
    await held;
    await waiting;
    shadows.offer(serving, '2', [{ image: red, result }]);
    await until(() => compared.length === 1);
    expect(shadows.inflight).to.equal(0);
    expect(admission.inflight).to.equal(0);
  });

  it('runs one shadow at a time: a second image offered meanwhile is skipped', async () => {
    const { shadows, compared, skipped, serving } = runner(4);
    const result = await classifier.classify(red);
    shadows.offer(serving, '2', [{ image: red, result }, { image: red, result }, { image: red, result }]);
    expect(skipped).to.deep.equal(['busy', 'busy']);
    await until(() => compared.length === 1);
  });

  it('skips a candidate that is gone as failed, and draws the sample', async () => {
    const { shadows, skipped, serving, compared } = runner(2, 0);
    const result = await classifier.classify(red);
    expect(shadows.offer(serving, '2', [{ image: red, result }])).to.equal(false);
    expect(skipped).to.deep.equal([]);
    const gone = runner(2);
    gone.shadows.offer(serving, '3', [{ image: red, result }]);
    await until(() => gone.skipped.length === 1);
    expect(gone.skipped).to.deep.equal(['failed']);
    expect(compared).to.deep.equal([]);
  });
});

describe('spare capacity', () => {
  it('is fewer classifications running than half the cores, at most a quarter of the gate\'s slots, at least one', () => {
    expect([1, 2, 4, 8, 16, 64].map((slots) => spareSlotsOf(slots, 64))).to.deep.equal([1, 1, 1, 2, 4, 16]);
    expect([1, 2, 3, 4, 8, 32].map((cores) => spareSlotsOf(16, cores))).to.deep.equal([1, 1, 1, 2, 4, 4]);
  });
});
