/**
 * Issue 25, items 2 to 4, over real HTTP with a real capture store (SQLite and image files in a
 * temporary folder): the answers of `/upload` and V2 are captured with their images, `X-Capture:
 * off` keeps one out, `POST /feedback` labels a capture (the latest label wins, unknown ids and
 * labels are refused), `GET /captures` lists the most uncertain first and as Label Studio tasks
 * whose image URLs the service serves, and the store keeps what it committed across a restart
 * and stays within its bounds, the oldest going first.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import sharp from 'sharp';
import { createSecurityHandlers } from '../../src/auth/security-handler.js';
import { createAccessTokenVerifier } from '../../src/auth/verifier.js';
import { openForReading } from '../../src/capture/database.js';
import { createCaptureService, type CaptureService } from '../../src/capture/service.js';
import type { CaptureSettings } from '../../src/capture/types.js';
import { createLogger } from '../../src/log.js';
import { readSpec } from '../../src/spec.js';
import { startIdentityProvider, type IdentityProvider } from '../fixtures/identity-provider.js';
import { uploadForm } from '../fixtures/images.js';
import { buildCourseVggLikeModel, courseVggLikeManifest } from '../fixtures/onnx-models.js';
import { expectMatchesSpec, expectProblem, receive, type Received } from '../support/contract.js';
import { need } from '../support/external.js';
import { expectOk, grpcClients, startGrpc, unaryCall } from '../support/grpc.js';
import { startService, type RunningService, type StartOptions } from '../support/service.js';
import { base64Request, postJson } from '../support/v2.js';
import { waitFor } from '../support/wait.js';

const model = { bytes: buildCourseVggLikeModel(), manifest: courseVggLikeManifest };
const log = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent');

/** A PNG of one colour: each colour a distinct image, and a distinct certainty of the model. */
const colourImage = (r: number, g: number, b: number): Promise<Buffer> =>
  sharp({ create: { width: 32, height: 32, channels: 3, background: { r, g, b } } }).png().toBuffer();

/** A PNG of random pixels: about 3 bytes a pixel, whatever the compression. */
const noiseImage = (side: number): Promise<Buffer> =>
  sharp(randomBytes(side * side * 3), { raw: { width: side, height: side, channels: 3 } }).png({ compressionLevel: 0 }).toBuffer();

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

function settingsFor(dir: string, overrides: Partial<CaptureSettings> = {}): CaptureSettings {
  return { sampleRate: 1, dir, maxBytes: 64 * 1024 * 1024, maxAgeMs: 30 * 86_400_000, queueBytes: 32 * 1024 * 1024, baseUrl: undefined, ...overrides };
}

/** A capture store on `dir` and the service in front of it. */
interface Running {
  readonly svc: RunningService;
  readonly capture: CaptureService;
  close(): Promise<void>;
}

async function startCapturing(dir: string, overrides: Partial<CaptureSettings> = {}, options: Partial<StartOptions> = {}): Promise<Running> {
  const capture = createCaptureService(settingsFor(dir, overrides), log);
  await capture.started;
  expect(capture.store.availability()).to.deep.equal({ available: true });
  const svc = await startService({ model, captures: capture, ...options });
  return {
    svc,
    capture,
    async close() {
      await svc.close();
      await capture.close();
    },
  };
}

interface CaptureBody {
  id: string;
  source: string;
  model: string;
  model_version: string;
  labels: string[];
  values: number[];
  prediction: string;
  confidence: number;
  margin: number;
  entropy: number;
  captured_at: string;
  subject?: string;
  request_id?: string;
  image: { sha256: string; bytes: number; media_type?: string; url: string };
  feedback?: { label: string; at: string; subject?: string };
}

interface Task {
  data: { image: string; capture_id: string; model: string };
  predictions: { model_version: string; score: number; result: { from_name: string; to_name: string; type: string; value: { choices: string[] } }[] }[];
}

describe('captures, feedback and what to label next (issue 25)', function () {
  this.timeout(60_000);
  let dir: string;
  let running: Running;
  let svc: RunningService;

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'cdo-captures-'));
    running = await startCapturing(dir);
    svc = running.svc;
  });
  after(async () => {
    await running?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const upload = async (image: Uint8Array, headers: Record<string, string> = {}): Promise<{ id: string; prediction: string; values: number[] }> => {
    const res = await receive(`${svc.url}/upload`, { method: 'POST', body: uploadForm(image), headers });
    expect(res.status, res.text).to.equal(200);
    const body = res.body as { id: string; prediction: string; values: number[] };
    expect(res.headers.get('x-inference-id')).to.equal(body.id);
    return body;
  };
  const getCapture = (id: string): Promise<Received> => receive(`${svc.url}/captures/${id}`);
  /** The capture `id` once the writer has it (it is written a moment after the answer). */
  const captured = async (id: string): Promise<CaptureBody> => {
    let res: Received | undefined;
    await waitFor(async () => (res = await getCapture(id)).status === 200, `capture ${id}`);
    expectMatchesSpec(svc.api, id.includes('/') ? 'getBatchCapture' : 'getCapture', res!);
    return res!.body as CaptureBody;
  };
  const feedback = (body: unknown): Promise<Received> =>
    receive(`${svc.url}/feedback`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const list = async (query: string, operation = 'listCaptures'): Promise<Received> => {
    const res = await receive(`${svc.url}/captures?${query}`);
    expect(res.status, res.text).to.equal(200);
    expectMatchesSpec(svc.api, operation, res);
    return res;
  };

  describe('capture', () => {
    it('keeps a gRPC ModelInfer answer under the id it answered with, source grpc, with the call\'s x-request-id; x-capture: off opts out', async function () {
      const conformance = need(this, 'conformance');
      const grpc = await startGrpc(svc.app);
      const clients = grpcClients(conformance, grpc.address);
      try {
        const image = await colourImage(20, 20, 230);
        const request = { model_name: 'catdog', inputs: [{ name: 'image', datatype: 'BYTES', shape: [1], contents: { bytes_contents: [image] } }] };
        const answer = expectOk(await unaryCall<{ id: string }>(clients.oip, 'ModelInfer', request, { metadata: { 'x-request-id': 'grpc-capture-1' } }));
        expect(answer.id).to.match(/^[\w.:-]{1,128}$/);
        const capture = await captured(answer.id);
        expect(capture).to.deep.include({ id: answer.id, source: 'grpc', model: 'catdog', request_id: 'grpc-capture-1' });
        expect(capture.image.sha256).to.equal(sha256(image));

        const optedOut = expectOk(await unaryCall<{ id: string }>(clients.oip, 'ModelInfer', request, { metadata: { 'x-capture': 'off' } }));
        // Written after the answer: a later capture is there when the opted-out one would have been.
        const later = await upload(await colourImage(21, 20, 230));
        await captured(later.id);
        expect((await getCapture(optedOut.id)).status).to.equal(404);
      } finally {
        clients.close();
        await grpc.close();
      }
    });

    it('keeps an /upload answer under its inference id: the answer, where it came from, and the image byte for byte', async () => {
      const image = await colourImage(230, 20, 20);
      const answer = await upload(image, { 'x-request-id': 'req-capture-1' });
      const capture = await captured(answer.id);
      expect(capture).to.deep.include({ id: answer.id, source: 'upload', model: 'catdog', model_version: '1', prediction: answer.prediction, request_id: 'req-capture-1' });
      expect(capture.labels).to.deep.equal(['Cat', 'Dog', 'Other']);
      expect(capture.values).to.deep.equal(answer.values);
      expect(capture.confidence).to.equal(Math.max(...answer.values));
      expect(capture.image).to.deep.equal({ sha256: sha256(image), bytes: image.length, media_type: 'image/png', url: `/captures/${answer.id}/image` });
      expect(capture.feedback).to.equal(undefined);

      const res = await fetch(`${svc.url}${capture.image.url}`);
      expect(res.status).to.equal(200);
      expect(res.headers.get('content-type')).to.equal('image/png');
      expect(Buffer.from(await res.arrayBuffer()).equals(image)).to.equal(true);
    });

    it('keeps each image of a V2 batch as <id>/<index>, and an image sent twice once on disk', async () => {
      const green = await colourImage(20, 230, 20);
      const blue = await colourImage(20, 20, 230);
      const res = await postJson(`${svc.url}/v2/models/catdog/infer`, base64Request([green, blue, green], { id: 'batch-1' }));
      expect(res.status, res.text).to.equal(200);
      const captures = await Promise.all([0, 1, 2].map((i) => captured(`batch-1/${i}`)));
      expect(captures.map((c) => c.source)).to.deep.equal(['v2', 'v2', 'v2']);
      expect(captures.map((c) => c.prediction)).to.deep.equal(['Dog', 'Other', 'Dog']);
      expect(captures[0]!.image.sha256).to.equal(sha256(green));
      expect(captures[2]!.image.sha256).to.equal(sha256(green));
      expect(captures[1]!.image.sha256).to.equal(sha256(blue));
      const image = await fetch(`${svc.url}/captures/batch-1/1/image`);
      expect(Buffer.from(await image.arrayBuffer()).equals(blue)).to.equal(true);

      const files = await readdir(path.join(dir, 'images'), { recursive: true, withFileTypes: true });
      const names = files.filter((f) => f.isFile()).map((f) => f.name);
      expect(names.filter((n) => n === sha256(green))).to.have.length(1);

      // A V2 request of one image is captured under the request's own id.
      const single = await postJson(`${svc.url}/v2/models/catdog/infer`, base64Request([blue], { id: 'single-1' }));
      expect(single.status, single.text).to.equal(200);
      expect((await captured('single-1')).image.sha256).to.equal(sha256(blue));
    });

    it('never keeps an answer whose request said X-Capture: off, and answers it as ever', async () => {
      const image = await colourImage(200, 60, 20);
      const kept = await upload(image, { 'x-capture': 'off' });
      expect(kept.prediction).to.equal('Cat');
      // The writer takes the captures in order: once a later one is in, the opted-out one would be too.
      const later = await upload(await colourImage(201, 60, 20));
      await captured(later.id);
      const res = await getCapture(kept.id);
      expectProblem(res, 404, 'capture-not-found');
      expectMatchesSpec(svc.api, 'getCapture', res);
    });

    it('counts what it stored in /metrics', async () => {
      const metrics = await receive(`${svc.url}/metrics`);
      expect(metrics.text).to.match(/^catdog_captures_total\{outcome="stored"\} [1-9]\d*$/m);
      expect(metrics.text).to.match(/^catdog_capture_writing 1$/m);
    });
  });

  describe('POST /feedback', () => {
    let id: string;
    before(async () => {
      id = (await upload(await colourImage(20, 20, 200))).id;
      await captured(id);
    });

    it('records a label of the model in any case (204), shown with the capture; the latest label wins', async () => {
      const first = await feedback({ id, label: 'dog' });
      expect(first.status, first.text).to.equal(204);
      expect(first.text).to.equal('');
      expect((await captured(id)).feedback).to.deep.include({ label: 'Dog' });

      const second = await feedback({ id, label: 'Other' });
      expect(second.status, second.text).to.equal(204);
      const capture = await captured(id);
      expect(capture.feedback).to.deep.include({ label: 'Other' });
      expect(Date.parse(capture.feedback!.at)).to.be.closeTo(Date.now(), 60_000);
    });

    it('labels one image of a V2 batch by <id>/<index>', async () => {
      await captured('batch-1/2');
      const res = await feedback({ id: 'batch-1/2', label: 'Cat' });
      expect(res.status, res.text).to.equal(204);
      expect((await captured('batch-1/2')).feedback).to.deep.include({ label: 'Cat' });
      expect((await captured('batch-1/0')).feedback).to.equal(undefined);
    });

    it('answers 404 capture-not-found for an id it never captured', async () => {
      const res = await feedback({ id: 'no-such-capture', label: 'Dog' });
      expectProblem(res, 404, 'capture-not-found');
      expectMatchesSpec(svc.api, 'postFeedback', res);
    });

    it('answers 422 unknown-label, naming the labels, for a label the model does not have; the feedback stays', async () => {
      const res = await feedback({ id, label: "Horse'; DROP TABLE feedback; --" });
      expectProblem(res, 422, 'unknown-label');
      expectMatchesSpec(svc.api, 'postFeedback', res);
      expect((res.body as { detail: string }).detail).to.contain('Cat, Dog, Other');
      expect((await captured(id)).feedback).to.deep.include({ label: 'Other' });
    });

    it('answers 400 validation-failed for a body without a label, as the spec says', async () => {
      const res = await feedback({ id });
      expectProblem(res, 400, 'validation-failed');
      expectMatchesSpec(svc.api, 'postFeedback', res);
    });

    it('refuses malformed JSON (400), a 10 MB body (413, from its Content-Length) and a form (415)', async () => {
      const post = (body: string | Uint8Array, type = 'application/json'): Promise<Received> =>
        receive(`${svc.url}/feedback`, { method: 'POST', headers: { 'content-type': type }, body });
      const malformed = await post('{"id": "x", "label": ');
      expectProblem(malformed, 400, 'bad-request');
      expectMatchesSpec(svc.api, 'postFeedback', malformed);
      const started = performance.now();
      const large = await post(JSON.stringify({ id, label: 'Dog', padding: 'x'.repeat(10 * 1024 * 1024) }));
      expectProblem(large, 413, 'payload-too-large');
      expectMatchesSpec(svc.api, 'postFeedback', large);
      expect(performance.now() - started).to.be.below(5_000);
      const form = await post(`id=${id}&label=Dog`, 'application/x-www-form-urlencoded');
      expectProblem(form, 415, 'unsupported-media-type');
      expectMatchesSpec(svc.api, 'postFeedback', form);
      expect((await captured(id)).feedback).to.deep.include({ label: 'Other' });
    });

    it('takes a flood of feedback, each answered, and keeps answering uploads meanwhile', async () => {
      // 400 feedbacks, 16 at a time (a client address may hold 32 connections); half for unknown ids.
      const statuses: { i: number; status: number }[] = [];
      let next = 0;
      const sender = async (): Promise<void> => {
        for (let i = next++; i < 400; i = next++) statuses.push({ i, status: (await feedback({ id: i % 2 ? id : `unknown-${i}`, label: i % 4 === 1 ? 'Cat' : 'Other' })).status });
      };
      const flood = Promise.all(Array.from({ length: 16 }, sender));
      const answer = await upload(await colourImage(230, 20, 20));
      expect(answer.prediction).to.equal('Cat');
      await flood;
      expect(statuses).to.have.length(400);
      expect(statuses.filter(({ i, status }) => status !== (i % 2 ? 204 : 404))).to.deep.equal([]);
      const last = await feedback({ id, label: 'Other' });
      expect(last.status).to.equal(204);
      expect((await captured(id)).feedback).to.deep.include({ label: 'Other' });
    });
  });

  describe('GET /captures', () => {
    /** Captures of known, distinct certainties (the mixed colours leave the model unsure). */
    let ids: string[];
    before(async () => {
      const images = await Promise.all([[120, 110, 20], [230, 30, 30], [90, 100, 110], [30, 220, 40]].map(([r, g, b]) => colourImage(r!, g!, b!)));
      ids = [];
      for (const image of images) ids.push((await upload(image)).id);
      await Promise.all(ids.map(captured));
    });

    it('lists the least confident first (the default order), at most `limit`', async () => {
      const all = ((await list('limit=1000')).body as { captures: CaptureBody[] }).captures;
      const confidences = all.map((c) => c.confidence);
      expect(confidences).to.deep.equal([...confidences].sort((a, b) => a - b));
      const explicit = ((await list('order=least-confidence&limit=1000')).body as { captures: CaptureBody[] }).captures;
      expect(explicit.map((c) => c.id)).to.deep.equal(all.map((c) => c.id));
      const two = ((await list('order=least-confidence&limit=2')).body as { captures: CaptureBody[] }).captures;
      expect(two.map((c) => c.id)).to.deep.equal(all.slice(0, 2).map((c) => c.id));
      // The certain red one of this block comes after the unsure mixed ones.
      const position = (id: string): number => all.findIndex((c) => c.id === id);
      expect(position(ids[0]!)).to.be.lessThan(position(ids[1]!));
    });

    it('orders by margin, entropy or newest', async () => {
      const margins = ((await list('order=margin&limit=1000')).body as { captures: CaptureBody[] }).captures.map((c) => c.margin);
      expect(margins).to.deep.equal([...margins].sort((a, b) => a - b));
      const entropies = ((await list('order=entropy&limit=1000')).body as { captures: CaptureBody[] }).captures.map((c) => c.entropy);
      expect(entropies).to.deep.equal([...entropies].sort((a, b) => b - a));
      const newest = ((await list('order=newest&limit=4')).body as { captures: CaptureBody[] }).captures.map((c) => c.id);
      expect(newest).to.deep.equal([...ids].reverse());
    });

    it('keeps the unlabelled ones with labelled=false, the labelled ones with labelled=true', async () => {
      const unlabelled = ((await list('labelled=false&limit=1000')).body as { captures: CaptureBody[] }).captures;
      const labelled = ((await list('labelled=true&limit=1000')).body as { captures: CaptureBody[] }).captures;
      expect(unlabelled.length).to.be.greaterThan(0);
      expect(labelled.length).to.be.greaterThan(0);
      expect(unlabelled.every((c) => c.feedback === undefined)).to.equal(true);
      expect(labelled.every((c) => c.feedback !== undefined)).to.equal(true);
      expect(unlabelled.map((c) => c.id)).to.include.members(ids);
      expect(labelled.map((c) => c.id)).to.include('batch-1/2');
    });

    it('answers Label Studio tasks with format=label-studio: the image at a URL it serves, the answer as a prediction', async () => {
      const res = await list('order=least-confidence&labelled=false&limit=3&format=label-studio');
      const tasks = res.body as Task[];
      const captures = ((await list('order=least-confidence&labelled=false&limit=3')).body as { captures: CaptureBody[] }).captures;
      expect(tasks.map((t) => t.data.capture_id)).to.deep.equal(captures.map((c) => c.id));
      for (const [i, task] of tasks.entries()) {
        const capture = captures[i]!;
        expect(task.data).to.deep.equal({ image: `${svc.url}/captures/${capture.id}/image`, capture_id: capture.id, model: 'catdog' });
        expect(task.predictions).to.have.length(1);
        const [prediction] = task.predictions;
        expect(prediction!.model_version).to.equal('1');
        expect(prediction!.score).to.equal(capture.values[capture.labels.indexOf(capture.prediction)]);
        expect(prediction!.result).to.deep.equal([{ from_name: 'choice', to_name: 'image', type: 'choices', value: { choices: [capture.prediction] } }]);
        const image = await fetch(task.data.image);
        expect(image.status).to.equal(200);
        expect(sha256(Buffer.from(await image.arrayBuffer()))).to.equal(capture.image.sha256);
      }
      const named = (await list('limit=1&format=label-studio&from_name=animal&to_name=photo')).body as Task[];
      expect(named[0]!.predictions[0]!.result[0]).to.deep.include({ from_name: 'animal', to_name: 'photo' });
    });

    it('puts CAPTURE_BASE_URL, not the request\'s host, in the image URLs of Label Studio tasks', async () => {
      const other = await startService({ model, captures: { store: running.capture.store, baseUrl: 'https://classifier.example.com/' } });
      try {
        const res = await receive(`${other.url}/captures?limit=1&format=label-studio`);
        expect(res.status, res.text).to.equal(200);
        const [task] = res.body as Task[];
        expect(task!.data.image).to.equal(`https://classifier.example.com/captures/${task!.data.capture_id}/image`);
      } finally {
        await other.close();
      }
    });

    it('answers 400 for an order it does not know', async () => {
      const res = await receive(`${svc.url}/captures?order=random`);
      expectProblem(res, 400, 'validation-failed');
      expectMatchesSpec(svc.api, 'listCaptures', res);
    });
  });
});

describe('the capture store across restarts and within its bounds (issue 25)', function () {
  this.timeout(60_000);
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'cdo-captures-'));
  });
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const uploadTo = async (svc: RunningService, image: Uint8Array): Promise<string> => {
    const res = await receive(`${svc.url}/upload`, { method: 'POST', body: uploadForm(image) });
    expect(res.status, res.text).to.equal(200);
    return (res.body as { id: string }).id;
  };
  const status = async (svc: RunningService, id: string): Promise<number> => (await receive(`${svc.url}/captures/${id}`)).status;

  it('keeps every committed capture and its feedback across a restart, in a database that passes integrity_check', async () => {
    const first = await startCapturing(dir);
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) ids.push(await uploadTo(first.svc, await colourImage(10 * i, 100, 200 - 10 * i)));
    await waitFor(async () => (await status(first.svc, ids.at(-1)!)) === 200, 'the last capture');
    const labelled = await receive(`${first.svc.url}/feedback`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: ids[3], label: 'Cat' }) });
    expect(labelled.status, labelled.text).to.equal(204);
    await first.close();

    const db = openForReading(dir);
    try {
      expect(db.prepare('PRAGMA integrity_check').get()).to.deep.equal({ integrity_check: 'ok' });
      expect(db.prepare('SELECT COUNT(*) AS n FROM captures').get()).to.deep.equal({ n: 12 });
    } finally {
      db.close();
    }

    const second = await startCapturing(dir);
    try {
      for (const id of ids) expect(await status(second.svc, id), id).to.equal(200);
      const capture = (await receive(`${second.svc.url}/captures/${ids[3]}`)).body as CaptureBody;
      expect(capture.feedback).to.deep.include({ label: 'Cat' });
      const all = (await receive(`${second.svc.url}/captures?limit=1000`)).body as { captures: CaptureBody[] };
      expect(all.captures).to.have.length(12);
    } finally {
      await second.close();
    }
  });

  it('removes the oldest captures first when CAPTURE_MAX_MIB is reached, and stays within it', async () => {
    // Images of about 48 KiB; the bound holds the database and a handful of them.
    const maxBytes = 400 * 1024;
    const running = await startCapturing(dir, { maxBytes });
    try {
      const ids: string[] = [];
      for (let i = 0; i < 16; i++) {
        const id = await uploadTo(running.svc, await noiseImage(128));
        ids.push(id);
        // One at a time, so that the order of arrival is the order here.
        await waitFor(() => (running.capture.stats().outcomes.get('stored') ?? 0) === i + 1, `capture ${i} stored`);
      }
      const kept = ((await receive(`${running.svc.url}/captures?order=newest&limit=1000`)).body as { captures: CaptureBody[] }).captures.map((c) => c.id);
      expect(kept.length).to.be.within(3, 15);
      // The newest are kept, the oldest gone: what is kept is the tail of the arrivals.
      expect([...kept].reverse()).to.deep.equal(ids.slice(ids.length - kept.length));
      expect(await status(running.svc, ids[0]!)).to.equal(404);
      const totals = running.capture.stats().totals!;
      expect(totals.bytes).to.be.at.most(maxBytes);
      expect(totals.captures).to.equal(kept.length);
      const files = (await readdir(path.join(dir, 'images'), { recursive: true, withFileTypes: true })).filter((f) => f.isFile());
      expect(files).to.have.length(kept.length);
    } finally {
      await running.close();
    }
  });

  it('removes the captures older than CAPTURE_MAX_AGE_DAYS (at start, then every minute)', async () => {
    const first = await startCapturing(dir);
    const id = await uploadTo(first.svc, await colourImage(1, 2, 3));
    await waitFor(async () => (await status(first.svc, id)) === 200, 'the capture');
    await first.close();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const second = await startCapturing(dir, { maxAgeMs: 10 });
    try {
      expect(await status(second.svc, id)).to.equal(404);
      expect(second.capture.stats().totals).to.deep.include({ captures: 0, images: 0 });
    } finally {
      await second.close();
    }
  });
});

describe('a capture store that cannot be used (issue 25)', function () {
  this.timeout(60_000);

  it('never fails an answer: uploads are answered, the captures answer 503 capture-unavailable, the drops are counted', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'cdo-captures-'));
    // CAPTURE_DIR is a file: the store cannot open (as on a read-only or full volume).
    const file = path.join(dir, 'not-a-folder');
    await writeFile(file, 'x');
    const capture = createCaptureService(settingsFor(file), log);
    await capture.started;
    const svc = await startService({ model, captures: capture });
    try {
      const res = await receive(`${svc.url}/upload`, { method: 'POST', body: uploadForm(await colourImage(230, 20, 20)) });
      expect(res.status, res.text).to.equal(200);
      const { id } = res.body as { id: string };
      const read = await receive(`${svc.url}/captures/${id}`);
      expectProblem(read, 503, 'capture-unavailable');
      expectMatchesSpec(svc.api, 'getCapture', read);
      expectProblem(await receive(`${svc.url}/feedback`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id, label: 'Cat' }) }), 503, 'capture-unavailable');
      const metrics = (await receive(`${svc.url}/metrics`)).text;
      expect(metrics).to.match(/^catdog_captures_total\{outcome="dropped-unavailable"\} 1$/m);
      expect(metrics).to.match(/^catdog_capture_writing 0$/m);
    } finally {
      await svc.close();
      await capture.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('captures with authentication (issue 25)', function () {
  this.timeout(60_000);
  let idp: IdentityProvider;
  let dir: string;
  let running: Running;

  before(async () => {
    idp = await startIdentityProvider();
    dir = await mkdtemp(path.join(os.tmpdir(), 'cdo-captures-'));
    const verifier = createAccessTokenVerifier({
      issuer: idp.issuer,
      audience: idp.audience,
      jwksUri: undefined,
      algorithms: ['RS256', 'ES256'],
      clockToleranceSeconds: 5,
      jwksCooldownMs: 0,
      jwksCacheMaxAgeMs: 600_000,
      jwksStaleIfErrorMs: 3_600_000,
      retryBackoffMs: 1_000,
      maxTokenLifetimeSeconds: 86_400,
      httpTimeoutMs: 1_000,
    });
    running = await startCapturing(dir, {}, { securityHandlers: createSecurityHandlers(readSpec(), { verifier }) });
  });
  after(async () => {
    await running?.close();
    await idp?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('records the token\'s subject; post::feedback labels, read::captures reads and fetches the task images, a prediction token does neither', async () => {
    const { svc } = running;
    const labeller = { authorization: `Bearer ${await idp.token('labeller-client')}` };
    const predictor = { authorization: `Bearer ${await idp.token('prediction-client')}` };

    const answer = await receive(`${svc.url}/upload`, { method: 'POST', body: uploadForm(await colourImage(230, 20, 20)), headers: labeller });
    expect(answer.status, answer.text).to.equal(200);
    const { id } = answer.body as { id: string };
    let capture: Received | undefined;
    await waitFor(async () => (capture = await receive(`${svc.url}/captures/${id}`, { headers: labeller })).status === 200, 'the capture');
    expect((capture!.body as CaptureBody).subject).to.equal('labeller-client');

    const feedbackBody = { method: 'POST', body: JSON.stringify({ id, label: 'Dog' }) };
    const refused = await receive(`${svc.url}/feedback`, { ...feedbackBody, headers: { ...predictor, 'content-type': 'application/json' } });
    expectProblem(refused, 403, 'insufficient-scope');
    const recorded = await receive(`${svc.url}/feedback`, { ...feedbackBody, headers: { ...labeller, 'content-type': 'application/json' } });
    expect(recorded.status, recorded.text).to.equal(204);
    const labelled = (await receive(`${svc.url}/captures/${id}`, { headers: labeller })).body as CaptureBody;
    expect(labelled.feedback).to.deep.include({ label: 'Dog', subject: 'labeller-client' });

    expectProblem(await receive(`${svc.url}/captures`, { headers: predictor }), 403, 'insufficient-scope');
    const tasks = (await receive(`${svc.url}/captures?format=label-studio`, { headers: labeller })).body as Task[];
    const image = tasks[0]!.data.image;
    expect((await fetch(image)).status).to.equal(401);
    expect((await fetch(image, { headers: predictor })).status).to.equal(403);
    expect((await fetch(image, { headers: labeller })).status).to.equal(200);
  });
});
