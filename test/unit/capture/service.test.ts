/**
 * The capture store as the service runs it (src/capture/service.ts and its writer thread): what
 * is offered is written, each image once; what does not fit the queue, or comes while the folder
 * cannot be written, is dropped and counted, and writing comes back by itself; the store's
 * requests are bounded; `close` writes what was offered.
 */
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { imageFile } from '../../../src/capture/database.js';
import { createCaptureService, type CaptureService } from '../../../src/capture/service.js';
import type { CaptureSettings } from '../../../src/capture/types.js';
import { CaptureUnavailable } from '../../../src/errors.js';
import type { CaptureRecord } from '../../../src/inference/capture.js';
import { createLogger } from '../../../src/log.js';
import { solidImage } from '../../fixtures/images.js';

const log = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent');

function settings(dir: string, extra: Partial<CaptureSettings> = {}): CaptureSettings {
  return { sampleRate: 1, dir, maxBytes: 1 << 30, maxAgeMs: 86_400_000, queueBytes: 32 << 20, baseUrl: undefined, ...extra };
}

function record(id: string, image: Uint8Array): CaptureRecord {
  return {
    id, at: Date.now(), origin: { source: 'upload', subject: 'client', requestId: `req-${id}` },
    model: 'catdog', modelName: 'catdog-head', version: '1', labels: ['Cat', 'Dog', 'Other'], values: [0.7, 0.2, 0.1],
    prediction: 'Cat', elapsedMs: 10, image,
  };
}

/** Resolves once `condition` holds, polling; rejects after `ms`. */
async function until(condition: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('capture service', function () {
  this.timeout(30_000);
  let dir: string;
  let service: CaptureService | undefined;
  let red: Buffer;
  let blue: Buffer;
  before(async () => {
    red = await solidImage('red');
    blue = await solidImage('blue');
  });
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'cdo-capture-'));
  });
  afterEach(async () => {
    await service?.close();
    service = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  it('writes what it is offered, each image once, and reads it back', async () => {
    service = createCaptureService(settings(dir), log);
    await service.started;
    expect(service.store.availability()).to.deep.equal({ available: true });
    service.sink.offer([record('a', red), record('b', red)]);
    service.sink.offer([record('c', blue)]);
    await until(() => service!.stats().outcomes.get('stored') === 3);
    expect(service.stats().totals).to.include({ captures: 3, images: 2 });
    const a = await service.store.get('a');
    expect(a?.image.mediaType).to.equal('image/png');
    const files = await readdir(path.dirname(imageFile(dir, a!.image.sha256)));
    expect(files).to.include(a!.image.sha256);
    const image = await service.store.image('c');
    expect(image?.file).to.equal(imageFile(dir, image!.view.image.sha256));
    expect(await service.store.feedback('a', 'dog', 'labeller')).to.deep.equal({ kind: 'recorded', label: 'Dog', model: 'catdog', version: '1', prediction: 'Cat' });
    expect((await service.store.list({ order: 'newest', labelled: true, model: undefined, limit: 10 })).map((v) => v.id)).to.deep.equal(['a']);
  });

  it('copies the images it takes: the caller may reuse its buffer at once', async () => {
    service = createCaptureService(settings(dir), log);
    await service.started;
    const buffer = Buffer.from(red);
    service.sink.offer([record('a', buffer)]);
    buffer.fill(0);
    await until(() => service!.stats().outcomes.get('stored') === 1);
    const view = await service.store.get('a');
    const { createHash } = await import('node:crypto');
    expect(view?.image.sha256).to.equal(createHash('sha256').update(red).digest('hex'));
  });

  it('counts a capture id taken already as a duplicate, and keeps the first', async () => {
    service = createCaptureService(settings(dir), log);
    await service.started;
    service.sink.offer([record('same', red)]);
    await until(() => service!.stats().outcomes.get('stored') === 1);
    service.sink.offer([record('same', blue)]);
    await until(() => service!.stats().outcomes.get('duplicate-id') === 1);
    const { createHash } = await import('node:crypto');
    expect((await service.store.get('same'))?.image.sha256).to.equal(createHash('sha256').update(red).digest('hex'));
  });

  it('drops, and counts, what does not fit its queue: it never waits', async () => {
    service = createCaptureService(settings(dir, { queueBytes: red.length + 10 }), log);
    await service.started;
    service.sink.offer([record('a', red)]);
    service.sink.offer([record('b', red)]);
    expect(service.stats().outcomes.get('dropped-queue-full')).to.equal(1);
    await until(() => service!.stats().outcomes.get('stored') === 1);
    expect(service.stats().queuedBytes).to.equal(0);
  });

  it('samples as CAPTURE_SAMPLE_RATE says: never at 0, always at 1, about half at 0.5', async () => {
    service = createCaptureService(settings(dir, { sampleRate: 0 }), log);
    expect(Array.from({ length: 100 }, () => service!.sink.sample()).some(Boolean)).to.equal(false);
    await service.close();
    service = createCaptureService(settings(dir, { sampleRate: 1 }), log);
    expect(Array.from({ length: 100 }, () => service!.sink.sample()).every(Boolean)).to.equal(true);
    await service.close();
    service = createCaptureService(settings(dir, { sampleRate: 0.5 }), log);
    const drawn = Array.from({ length: 2000 }, () => service!.sink.sample()).filter(Boolean).length;
    expect(drawn).to.be.within(850, 1150);
  });

  it('cannot open a folder that is a file: unavailable, with the reason; offers are dropped and counted', async () => {
    const file = path.join(dir, 'not-a-folder');
    await writeFile(file, 'x');
    service = createCaptureService(settings(file), log);
    await service.started;
    const availability = service.store.availability();
    expect(availability.available).to.equal(false);
    // Clients read that it cannot be opened; the log says why (the file, the system error).
    expect(availability.available ? '' : availability.reason).to.match(/^The capture store cannot be opened/).and.not.contain(dir);
    service.sink.offer([record('a', red)]);
    expect(service.stats().outcomes.get('dropped-unavailable')).to.equal(1);
    expect(service.stats().writing).to.equal(false);
    const refused = await service.store.get('a').catch((err: unknown) => err);
    expect(refused).to.be.instanceOf(CaptureUnavailable);
  });

  it('stops writing when a write fails, drops and counts meanwhile, and writes again once it can', async () => {
    service = createCaptureService(settings(dir), log, { retryMs: 300 });
    await service.started;
    const { createHash } = await import('node:crypto');
    const sha256 = createHash('sha256').update(red).digest('hex');
    // The image's folder is taken by a file: its write fails as a full disk's would.
    const blocker = path.dirname(imageFile(dir, sha256));
    await writeFile(blocker, 'in the way');
    service.sink.offer([record('a', red)]);
    await until(() => service!.stats().writing === false);
    expect(service.stats().outcomes.get('dropped-unwritable')).to.equal(1);
    service.sink.offer([record('b', red)]);
    expect(service.stats().outcomes.get('dropped-unwritable')).to.equal(2);
    expect(await service.store.get('a')).to.equal(undefined);
    await rm(blocker);
    await mkdir(blocker);
    // After retryMs the writer asks for captures again, and writes them.
    await until(() => service!.stats().writing);
    service.sink.offer([record('c', red)]);
    await until(() => service!.stats().outcomes.get('stored') === 1);
    expect((await service.store.get('c'))?.id).to.equal('c');
  });

  it('refuses requests beyond its bound at once, with 503 capture-unavailable', async () => {
    service = createCaptureService(settings(dir), log);
    await service.started;
    const results = await Promise.allSettled(Array.from({ length: 600 }, (_, i) => service!.store.get(`id-${i}`)));
    const refused = results.filter((r) => r.status === 'rejected');
    expect(refused.length).to.be.at.least(300);
    expect((refused[0] as PromiseRejectedResult).reason).to.be.instanceOf(CaptureUnavailable);
    expect(results.filter((r) => r.status === 'fulfilled').length).to.be.at.least(200);
  });

  it('writes what was offered before it closes', async () => {
    service = createCaptureService(settings(dir), log);
    await service.started;
    service.sink.offer(Array.from({ length: 20 }, (_, i) => record(`c${i}`, i % 2 ? red : blue)));
    await service.close();
    service = createCaptureService(settings(dir), log);
    await service.started;
    expect(service.stats().totals).to.include({ captures: 20, images: 2 });
  });
});
