/**
 * Issue 25, item 5: the Label Studio ML backend, with this test in Label Studio's part. A local
 * server plays Label Studio: it serves the tasks' images behind `Authorization: Token …` and
 * counts what it is asked. The backend is called as Label Studio calls it (health, setup, predict,
 * webhook, with the Basic credentials of its "Connect model" form): three tasks get three
 * predictions in order, in the label config's names; an annotation becomes feedback on a capture
 * (a new one for a task the service had not seen); an image on another host is never fetched; a
 * wrong password and a malformed body are refused with problems.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import sharp from 'sharp';
import { createSecurityHandlers } from '../../src/auth/security-handler.js';
import { createAccessTokenVerifier } from '../../src/auth/verifier.js';
import { createCaptureService, type CaptureService } from '../../src/capture/service.js';
import { createLogger } from '../../src/log.js';
import { readSpec } from '../../src/spec.js';
import { manageScope, startIdentityProvider, type IdentityProvider } from '../fixtures/identity-provider.js';
import { uploadForm } from '../fixtures/images.js';
import { buildCourseVggLikeModel, courseVggLikeManifest } from '../fixtures/onnx-models.js';
import { expectMatchesSpec, expectProblem, receive, type Received } from '../support/contract.js';
import { startService, type RunningService } from '../support/service.js';

const model = { bytes: buildCourseVggLikeModel(), manifest: courseVggLikeManifest };
const log = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent');

const colourImage = (r: number, g: number, b: number): Promise<Buffer> =>
  sharp({ create: { width: 32, height: 32, channels: 3, background: { r, g, b } } }).png().toBuffer();

/** Label Studio's API key, and the backend's Basic credentials as its connection form sends them. */
const API_KEY = 'ls-api-key-0123456789';
const basic = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const LS_AUTH = basic('label-studio', 'connect-secret');

/** A project's label config with names of its own: the backend must use them, not the template's. */
const LABEL_CONFIG = `<View>
  <!-- <Choices name="commented" toName="photo"/> -->
  <Image name="photo" value="$img" zoom="true"/>
  <Choices name="animal" toName="photo" choice="single">
    <Choice value="cat"/><Choice value="dog"/><Choice value="other"/>
  </Choices>
</View>`;

/** An HTTP server answering `handle`, on 127.0.0.1:0, with the requests it got. */
interface FakeServer {
  readonly origin: string;
  readonly requests: IncomingMessage[];
  close(): Promise<void>;
}

async function startFake(handle: (req: IncomingMessage) => { status: number; body: Buffer | string; type?: string }): Promise<FakeServer> {
  const requests: IncomingMessage[] = [];
  const server: Server = createServer((req, res) => {
    requests.push(req);
    const { status, body, type } = handle(req);
    res.writeHead(status, { 'content-type': type ?? 'text/plain' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

describe('Label Studio ML backend (issue 25, item 5)', function () {
  this.timeout(60_000);
  let idp: IdentityProvider;
  let dir: string;
  let capture: CaptureService;
  let svc: RunningService;
  let labelStudio: FakeServer;
  let elsewhere: FakeServer;
  const images = new Map<string, Buffer>();

  before(async () => {
    images.set('/data/upload/1/red.png', await colourImage(230, 20, 20));
    images.set('/data/upload/1/green.png', await colourImage(20, 230, 20));
    images.set('/data/upload/1/blue.png', await colourImage(20, 20, 230));
    images.set('/data/upload/1/grey.png', await colourImage(128, 128, 128));
    labelStudio = await startFake((req) => {
      if (req.headers.authorization !== `Token ${API_KEY}`) return { status: 401, body: 'Authentication credentials were not provided.' };
      const image = images.get(req.url ?? '');
      return image ? { status: 200, body: image, type: 'image/png' } : { status: 404, body: 'Not found' };
    });
    elsewhere = await startFake(() => ({ status: 200, body: images.get('/data/upload/1/red.png')!, type: 'image/png' }));

    idp = await startIdentityProvider();
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
    dir = await mkdtemp(path.join(os.tmpdir(), 'cdo-label-studio-'));
    capture = createCaptureService(
      { sampleRate: 1, dir, maxBytes: 64 * 1024 * 1024, maxAgeMs: 30 * 86_400_000, queueBytes: 32 * 1024 * 1024, baseUrl: undefined },
      log,
    );
    await capture.started;
    svc = await startService({
      model,
      captures: capture,
      verifier,
      securityHandlers: createSecurityHandlers(readSpec(), { verifier, basic: { user: 'label-studio', password: 'connect-secret' } }),
      // No LABEL_STUDIO_URL: Label Studio's setup call says where it is.
      labelStudio: { url: undefined, apiKey: undefined, fetchTimeoutMs: 2_000 },
    });
  });
  after(async () => {
    await svc?.close();
    await capture?.close();
    await idp?.close();
    await labelStudio?.close();
    await elsewhere?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const call = (operation: string, body: unknown, authorization = LS_AUTH): Promise<Received> =>
    receive(`${svc.url}/label-studio/${operation}`, {
      method: 'POST',
      headers: { authorization, 'content-type': 'application/json' },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  const task = (id: number, image: string): { id: number; data: Record<string, unknown>; annotations: unknown[] } =>
    ({ id, data: { img: image }, annotations: [] });
  const predictBody = (tasks: unknown[]): unknown => ({ tasks, model_version: null, project: '1.1733490000', label_config: LABEL_CONFIG, params: { login: null, password: null, context: null } });

  interface Prediction { model_version: string; score: number; result: { from_name: string; to_name: string; type: string; value: { choices: string[] } }[] }

  it('answers health, then setup with the version, as Label Studio\'s "Connect model" form calls them with Basic', async () => {
    const health = await receive(`${svc.url}/label-studio/health`, { headers: { authorization: LS_AUTH } });
    expect(health.status, health.text).to.equal(200);
    expectMatchesSpec(svc.api, 'labelStudioHealth', health);
    expect(health.body).to.deep.include({ status: 'UP' });

    const setup = await call('setup', { project: '1.1733490000', schema: LABEL_CONFIG, hostname: labelStudio.origin, access_token: API_KEY, model_version: null, extra_params: {} });
    expect(setup.status, setup.text).to.equal(200);
    expectMatchesSpec(svc.api, 'labelStudioSetup', setup);
    expect(setup.body).to.deep.equal({ model_version: '1' });
  });

  it('predicts three tasks in order, fetching each image from Label Studio with its key, in the label config\'s names', async () => {
    const tasks = [task(11, '/data/upload/1/red.png'), task(12, `${labelStudio.origin}/data/upload/1/green.png`), task(13, '/data/upload/1/blue.png')];
    const before = labelStudio.requests.length;
    const res = await call('predict', predictBody(tasks));
    expect(res.status, res.text).to.equal(200);
    expectMatchesSpec(svc.api, 'labelStudioPredict', res);
    const { results } = res.body as { results: Prediction[] };
    expect(results).to.have.length(3);
    expect(labelStudio.requests.slice(before).map((r) => r.url)).to.deep.equal(['/data/upload/1/red.png', '/data/upload/1/green.png', '/data/upload/1/blue.png']);

    // The same images uploaded: the same answers, in the tasks' order, in the project's spelling.
    const labeller = { authorization: `Bearer ${await idp.token('labeller-client')}` };
    for (const [i, name] of ['red', 'green', 'blue'].entries()) {
      const upload = await receive(`${svc.url}/upload`, { method: 'POST', body: uploadForm(images.get(`/data/upload/1/${name}.png`)!), headers: labeller });
      expect(upload.status, upload.text).to.equal(200);
      const answer = upload.body as { prediction: string; values: number[] };
      const prediction = results[i]!;
      expect(prediction.model_version).to.equal('1');
      expect(prediction.score).to.be.closeTo(Math.max(...answer.values), 1e-6);
      expect(prediction.result).to.deep.equal([
        { from_name: 'animal', to_name: 'photo', type: 'choices', value: { choices: [answer.prediction.toLowerCase()] } },
      ]);
    }
  });

  it('records an annotation as feedback: on the capture of a predicted task, and on a new capture for a task it had not seen', async () => {
    const labeller = { authorization: `Bearer ${await idp.token('labeller-client')}` };
    const annotation = (label: string): unknown => ({ id: 5, was_cancelled: false, result: [{ from_name: 'animal', to_name: 'photo', type: 'choices', value: { choices: [label] } }] });
    const project = { id: 1, title: 'Cats and dogs', label_config: LABEL_CONFIG };

    // Task 11 was predicted (and captured, CAPTURE_SAMPLE_RATE=1) above.
    const created = await call('webhook', { action: 'ANNOTATION_CREATED', project, task: task(11, '/data/upload/1/red.png'), annotation: annotation('dog') });
    expect(created.status, created.text).to.equal(201);
    expectMatchesSpec(svc.api, 'labelStudioWebhook', created);
    expect(created.body).to.deep.equal({ status: 'ok', result: { capture_id: 'label-studio.1.11', label: 'Dog' } });
    const predicted = await receive(`${svc.url}/captures/label-studio.1.11`, { headers: labeller });
    expect(predicted.status, predicted.text).to.equal(200);
    expect(predicted.body).to.deep.include({ source: 'label-studio' });
    expect((predicted.body as { feedback?: { label: string } }).feedback).to.deep.include({ label: 'Dog' });

    // The latest annotation wins.
    const updated = await call('webhook', { action: 'ANNOTATION_UPDATED', project, task: task(11, '/data/upload/1/red.png'), annotation: annotation('other') });
    expect(updated.status, updated.text).to.equal(201);
    const relabelled = await receive(`${svc.url}/captures/label-studio.1.11`, { headers: labeller });
    expect((relabelled.body as { feedback?: { label: string } }).feedback).to.deep.include({ label: 'Other' });

    // Task 20 was never predicted: its image is fetched, classified and captured, then labelled.
    const unseen = await call('webhook', { action: 'ANNOTATION_CREATED', project, task: task(20, '/data/upload/1/grey.png'), annotation: annotation('cat') });
    expect(unseen.status, unseen.text).to.equal(201);
    const fresh = await receive(`${svc.url}/captures/label-studio.1.20`, { headers: labeller });
    expect(fresh.status, fresh.text).to.equal(200);
    expectMatchesSpec(svc.api, 'getCapture', fresh);
    expect(fresh.body).to.deep.include({ source: 'label-studio', model: 'catdog', model_version: '1' });
    expect((fresh.body as { feedback?: { label: string } }).feedback).to.deep.include({ label: 'Cat' });

    // Events that are not annotations are answered as Label Studio's own backend answers them.
    const other = await call('webhook', { action: 'PROJECT_UPDATED', project });
    expect(other.status, other.text).to.equal(200);
    expect(other.body).to.deep.equal({ status: 'Unknown event' });
  });

  it('refuses a task whose image is on another host, without fetching it', async () => {
    const before = labelStudio.requests.length;
    const res = await call('predict', predictBody([task(31, '/data/upload/1/red.png'), task(32, `${elsewhere.origin}/data/upload/1/red.png`)]));
    expectProblem(res, 422, 'task-image-refused');
    expectMatchesSpec(svc.api, 'labelStudioPredict', res);
    expect(elsewhere.requests).to.have.length(0);
    // Nor through a redirect-free trick: credentials in the URL name another authority too.
    const sneaky = await call('predict', predictBody([task(33, `http://user@${new URL(labelStudio.origin).host}/data/upload/1/red.png`)]));
    expectProblem(sneaky, 422, 'task-image-refused');
    expect(labelStudio.requests.length - before).to.be.at.most(1);
  });

  it('says when Label Studio does not give an image (its 404), with a 502 problem', async () => {
    const res = await call('predict', predictBody([task(40, '/data/upload/1/missing.png')]));
    expectProblem(res, 502, 'task-image-unavailable');
    expectMatchesSpec(svc.api, 'labelStudioPredict', res);
  });

  it('counts an annotation in the accuracy on feedback of the version that answered (issue 26, item 3)', async () => {
    const operator = { authorization: `Bearer ${await idp.token('operator-client', { scope: manageScope })}` };
    const feedback = async (): Promise<{ correct: number; incorrect: number }> => {
      const res = await receive(`${svc.url}/v2/repository/models/catdog/evidence`, { headers: operator });
      expect(res.status, res.text).to.equal(200);
      return (res.body as { versions: { feedback: { correct: number; incorrect: number } }[] }).versions[0]!.feedback;
    };
    const before = await feedback();
    const project = { id: 1, title: 'Cats and dogs', label_config: LABEL_CONFIG };
    const annotation = { id: 6, was_cancelled: false, result: [{ from_name: 'animal', to_name: 'photo', type: 'choices', value: { choices: ['cat'] } }] };
    const labelled = await call('webhook', { action: 'ANNOTATION_CREATED', project, task: task(30, '/data/upload/1/blue.png'), annotation });
    expect(labelled.status, labelled.text).to.equal(201);
    const labeller = { authorization: `Bearer ${await idp.token('labeller-client')}` };
    const { prediction } = (await receive(`${svc.url}/captures/label-studio.1.30`, { headers: labeller })).body as { prediction: string };
    const right = prediction === 'Cat' ? 1 : 0;
    expect(await feedback()).to.deep.include({ correct: before.correct + right, incorrect: before.incorrect + 1 - right });
  });

  it('refuses a wrong Basic password (401, a Basic challenge), a token without read::captures (403), and takes one with it', async () => {
    const wrong = await call('predict', predictBody([]), basic('label-studio', 'not-the-secret'));
    expectProblem(wrong, 401, 'invalid-credentials');
    expectMatchesSpec(svc.api, 'labelStudioPredict', wrong);
    expect(wrong.headers.get('www-authenticate')).to.match(/^Basic realm=/);
    expect(wrong.text).to.not.include('connect-secret');
    expectProblem(await receive(`${svc.url}/label-studio/health`), 401, 'token-missing');

    const predictor = `Bearer ${await idp.token('prediction-client')}`;
    expectProblem(await call('predict', predictBody([]), predictor), 403, 'insufficient-scope');
    const labeller = `Bearer ${await idp.token('labeller-client')}`;
    const ok = await call('predict', predictBody([task(50, '/data/upload/1/green.png')]), labeller);
    expect(ok.status, ok.text).to.equal(200);
    expect((ok.body as { results: unknown[] }).results).to.have.length(1);
  });

  it('refuses a malformed body with a 400 problem: not JSON, no tasks, tasks of the wrong shape', async () => {
    const notJson = await call('predict', '{"tasks": [');
    expectProblem(notJson, 400, 'bad-request');
    expectMatchesSpec(svc.api, 'labelStudioPredict', notJson);
    const noTasks = await call('predict', { label_config: LABEL_CONFIG });
    expectProblem(noTasks, 400, 'validation-failed');
    expectMatchesSpec(svc.api, 'labelStudioPredict', noTasks);
    expectProblem(await call('predict', predictBody([{ id: 'seven', data: {} }])), 400, 'validation-failed');
    expectProblem(await call('webhook', { project: { id: 1 } }), 400, 'validation-failed');
    expectProblem(await call('setup', { project: '1.1' }), 400, 'validation-failed');
  });

  it('takes bodies over the 16 KiB of other JSON operations (a long label config), and refuses one over 1 MiB before reading it', async () => {
    const long = LABEL_CONFIG.replace('<View>', `<View><!-- ${'x'.repeat(40_000)} -->`);
    const res = await call('predict', { tasks: [], project: '1.1', label_config: long });
    expect(res.status, res.text).to.equal(200);
    expect(res.body).to.deep.equal({ results: [] });
    const huge = await call('webhook', { action: 'ANNOTATION_CREATED', project: { id: 1 }, padding: 'x'.repeat(1_100_000) });
    expectProblem(huge, 413, 'payload-too-large');
    expectMatchesSpec(svc.api, 'labelStudioWebhook', huge);
  });
});
