/**
 * Capture in the real process (`src/main.ts`, issue 25): off unless CAPTURE_SAMPLE_RATE says
 * otherwise (nothing created on disk); on, every answer is kept, each image once, and what was
 * committed survives a `kill -9` mid-traffic and the restart after it, in a database that passes
 * SQLite's integrity check.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import sharp from 'sharp';
import { openForReading } from '../../src/capture/database.js';
import { uploadForm } from '../fixtures/images.js';
import { buildCourseVggLikeModel, courseVggLikeManifest } from '../fixtures/onnx-models.js';
import { expectProblem, receive } from '../support/contract.js';
import { spawnService } from '../support/process.js';
import { writeFixtureModel } from '../support/service.js';
import { waitFor } from '../support/wait.js';

const colourImage = (r: number, g: number, b: number): Promise<Buffer> =>
  sharp({ create: { width: 48, height: 48, channels: 3, background: { r, g, b } } }).png().toBuffer();

async function upload(url: string, image: Uint8Array): Promise<string> {
  const res = await receive(`${url}/upload`, { method: 'POST', body: uploadForm(image) });
  expect(res.status, res.text).to.equal(200);
  return (res.body as { id: string }).id;
}

describe('capture in the process (issue 25)', function () {
  this.timeout(120_000);
  let model: { manifestPath: string; dir: string };
  let dir: string;
  before(async () => {
    model = await writeFixtureModel({ bytes: buildCourseVggLikeModel(), manifest: courseVggLikeManifest });
  });
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'cdo-capture-process-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));
  after(() => rm(model.dir, { recursive: true, force: true }));

  it('keeps nothing by default: no folder is created and the captures answer 503 capture-unavailable', async () => {
    const captureDir = path.join(dir, 'captures');
    const svc = await spawnService({ MODEL_MANIFEST: model.manifestPath, CAPTURE_DIR: captureDir });
    try {
      await upload(svc.url, await colourImage(200, 30, 30));
      expectProblem(await receive(`${svc.url}/captures`), 503, 'capture-unavailable');
      expect(existsSync(captureDir)).to.equal(false);
    } finally {
      expect(await svc.stop()).to.equal(0);
    }
  });

  it('keeps every answer at CAPTURE_SAMPLE_RATE=1; a kill -9 mid-traffic loses nothing committed nor the database', async () => {
    const env = { MODEL_MANIFEST: model.manifestPath, CAPTURE_SAMPLE_RATE: '1', CAPTURE_DIR: dir };
    const first = await spawnService(env);
    const images = await Promise.all(Array.from({ length: 10 }, (_, i) => colourImage(25 * i, 200 - 15 * i, 100)));
    // Each image twice: 20 answers, 10 images on disk.
    const ids: string[] = [];
    for (const image of [...images, ...images]) ids.push(await upload(first.url, image));
    const listed = async (url: string): Promise<{ id: string; feedback?: { label: string } }[]> =>
      ((await receive(`${url}/captures?order=newest&limit=1000`)).body as { captures: { id: string; feedback?: { label: string } }[] }).captures;
    await waitFor(async () => (await listed(first.url)).length === ids.length, 'every answer captured');
    for (const id of ids.slice(0, 4)) {
      const res = await receive(`${first.url}/feedback`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id, label: 'Other' }) });
      expect(res.status, res.text).to.equal(204);
    }

    // More answers in flight, then kill -9 while they are being answered and written.
    const more = await Promise.all(Array.from({ length: 40 }, (_, i) => colourImage(i, 2 * i, 3 * i)));
    let answered = 0;
    const inFlight = more.map((image) =>
      fetch(`${first.url}/upload`, { method: 'POST', body: uploadForm(image) }).then(() => answered++, () => undefined));
    await waitFor(() => answered >= 5, 'the first answers of the traffic', { intervalMs: 1 });
    first.child.kill('SIGKILL');
    await first.exited;
    await Promise.all(inFlight);

    expect(answered, 'answers before the kill').to.be.below(more.length);
    let killedWith: number;
    const db = openForReading(dir);
    try {
      expect(db.prepare('PRAGMA integrity_check').get()).to.deep.equal({ integrity_check: 'ok' });
      const stored = new Set(db.prepare('SELECT id FROM captures').all().map((r) => String(r.id)));
      expect(ids.filter((id) => !stored.has(id))).to.deep.equal([]);
      expect(db.prepare('SELECT COUNT(*) AS n FROM feedback').get()).to.deep.equal({ n: 4 });
      killedWith = stored.size;
    } finally {
      db.close();
    }

    const second = await spawnService(env);
    try {
      const captures = await listed(second.url);
      expect(captures.length, 'captures after the restart').to.equal(killedWith);
      const byId = new Map(captures.map((c) => [c.id, c]));
      expect(ids.filter((id) => !byId.has(id))).to.deep.equal([]);
      expect(ids.slice(0, 4).map((id) => byId.get(id)!.feedback?.label)).to.deep.equal(['Other', 'Other', 'Other', 'Other']);
      // Each image once on disk, and no file the database does not name (a cut write's file is swept at start).
      const files = (await readdir(path.join(dir, 'images'), { recursive: true, withFileTypes: true })).filter((f) => f.isFile());
      const named = new Set(captures.map((c) => (c as unknown as { image: { sha256: string } }).image.sha256));
      expect(files.map((f) => f.name).sort()).to.deep.equal([...named].sort());
      // It captures again after the restart.
      const id = await upload(second.url, await colourImage(7, 7, 7));
      await waitFor(async () => (await receive(`${second.url}/captures/${id}`)).status === 200, 'a capture after the restart');
    } finally {
      expect(await second.stop()).to.equal(0);
    }
  });
});
