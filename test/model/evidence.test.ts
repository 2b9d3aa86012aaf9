/**
 * Issue 26, item 3, with the real default model over real HTTP (and gRPC), a real identity
 * provider and a real capture store: only dog photos move the drift past its alert threshold
 * within the window; `GET /v2/repository/models/{name}/evidence` and `/metrics` say the same;
 * feedback moves the accuracy. The photos are `TRAIN_DATA`'s (skipped where it is not there).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { createCaptureService, type CaptureService } from '../../src/capture/service.js';
import { createLogger } from '../../src/log.js';
import { DRIFT_ALERT_PSI } from '../../src/inference/evidence.js';
import { readLabelledFolder } from '../../tools/evaluate.js';
import { feedbackScope, manageScope, metricsScope, predictionScope, readCapturesScope } from '../fixtures/client-credentials.js';
import { startIdentityProvider, type IdentityProvider } from '../fixtures/identity-provider.js';
import { uploadForm } from '../fixtures/images.js';
import { expectMatchesSpec, receive } from '../support/contract.js';
import { locate, need } from '../support/external.js';
import { expectOk, grpcClients, startGrpc, unaryCall } from '../support/grpc.js';
import { defaultModelManifest, startService, type RunningService } from '../support/service.js';
import { base64Request, expectV2Problem, postJson } from '../support/v2.js';
import { verifierFor } from '../support/verifier.js';
import { waitFor } from '../support/wait.js';

/** The evidence of one version, as the API answers it. */
interface VersionBody {
  version: string;
  labels: string[];
  answers: Record<string, number>;
  confidence: { buckets: { le: number; count: number }[]; count: number; sum: number; low_threshold: number; low: number; low_share: number | null };
  feedback: { correct: number; incorrect: number; accuracy: number | null };
  history: { at: number; answers: Record<string, number> }[];
  drift: { alert_psi: number; window_size: number; window_answers: number; window: Record<string, number>; reference: Record<string, number> | null; psi: number | null };
  shadow: unknown;
}

/** The samples of a Prometheus text exposition: `name{labels}` → value. */
function samples(text: string): Map<string, number> {
  const found = new Map<string, number>();
  for (const line of text.split('\n')) {
    const match = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (match) found.set(`${match[1]}${match[2] ?? ''}`, Number(match[3]));
  }
  return found;
}

const WINDOW = 40;

describe('evidence per version with the real model (issue 26, item 3)', function () {
  this.timeout(300_000);
  let idp: IdentityProvider;
  let dir: string;
  let capture: CaptureService;
  let svc: RunningService;
  let operator: string;
  let predictor: string;

  before(async () => {
    idp = await startIdentityProvider();
    dir = await mkdtemp(path.join(os.tmpdir(), 'cdo-evidence-'));
    capture = createCaptureService({ sampleRate: 1, dir, maxBytes: 256 * 1024 * 1024, maxAgeMs: 86_400_000, queueBytes: 32 * 1024 * 1024, baseUrl: undefined },
      createLogger(process.env.TEST_LOG_LEVEL ?? 'silent'));
    await capture.started;
    svc = await startService({
      model: { manifestPath: defaultModelManifest },
      verifier: verifierFor(idp),
      captures: capture,
      evidence: { windowAnswers: WINDOW, lowConfidence: 0.6 },
    });
    operator = await idp.token('operator-client', { scope: [predictionScope, metricsScope, manageScope, readCapturesScope, feedbackScope].join(' ') });
    predictor = await idp.token('prediction-client');
  });
  after(async () => {
    await svc?.close();
    await capture?.close();
    await idp?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const auth = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });
  const evidence = async (): Promise<VersionBody> => {
    const res = await receive(`${svc.url}/v2/repository/models/catdog/evidence`, { headers: auth(operator) });
    expect(res.status, res.text).to.equal(200);
    expectMatchesSpec(svc.api, 'getModelEvidence', res);
    expect(res.headers.get('cache-control')).to.equal('no-store');
    const body = res.body as { name: string; versions: VersionBody[] };
    expect(body.name).to.equal('catdog');
    expect(body.versions.map((v) => v.version)).to.deep.equal(['1']);
    return body.versions[0]!;
  };
  const upload = async (file: string): Promise<{ id: string; prediction: string }> => {
    const res = await receive(`${svc.url}/upload`, { method: 'POST', body: uploadForm(await readFile(file), path.basename(file)), headers: auth(operator) });
    expect(res.status, res.text).to.equal(200);
    return res.body as { id: string; prediction: string };
  };
  const inferV2 = async (file: string): Promise<void> => {
    const res = await postJson(`${svc.url}/v2/models/catdog/infer`, base64Request([await readFile(file)]), auth(operator));
    expect(res.status, res.text).to.equal(200);
  };

  it('needs a token with manage::models, and knows only the repository\'s models', async () => {
    const url = `${svc.url}/v2/repository/models/catdog/evidence`;
    const anonymous = await receive(url);
    expectV2Problem(anonymous, 401, 'token-missing');
    expectMatchesSpec(svc.api, 'getModelEvidence', anonymous);
    const forbidden = await receive(url, { headers: auth(predictor) });
    expectV2Problem(forbidden, 403, 'insufficient-scope');
    expect(forbidden.headers.get('www-authenticate')).to.equal('Bearer realm="cat-dog-other", error="insufficient_scope", scope="manage::models"');
    expectMatchesSpec(svc.api, 'getModelEvidence', forbidden);
    const unknown = await receive(`${svc.url}/v2/repository/models/nope/evidence`, { headers: auth(operator) });
    expectV2Problem(unknown, 404, 'model-not-found');
    expectMatchesSpec(svc.api, 'getModelEvidence', unknown);
    const before = await evidence();
    expect(before.drift.reference, 'make model stored the training reference').to.deep.equal({ Cat: 29 / 85, Dog: 32 / 85, Other: 24 / 85 });
    expect(before.drift).to.include({ alert_psi: DRIFT_ALERT_PSI, window_size: WINDOW, psi: null });
    expect(before.shadow).to.equal(null);
  });

  it('moves the drift past its alert threshold within the window when fed only dog photos', async function () {
    const photos = await readLabelledFolder(need(this, 'photos'));
    const of = (label: string) => photos.filter((p) => p.label.toLowerCase() === label).map((p) => p.file);
    const [cats, dogs, others] = [of('cat'), of('dog'), of('other')];
    // First a window of photos like the training ones, interleaved: no drift.
    const mixed = Array.from({ length: WINDOW }, (_, i) => [cats, dogs, others][i % 3]![Math.floor(i / 3)]!);
    for (const file of mixed) await upload(file);
    const settled = await evidence();
    expect(settled.drift.window_answers).to.equal(WINDOW);
    expect(settled.drift.psi, `mixed window ${JSON.stringify(settled.drift.window)}`).to.be.lessThan(0.1);

    // Then only dogs, by /upload and V2 REST in turn: the PSI crosses the threshold before the window has turned over.
    let fed = 0;
    let psi = settled.drift.psi!;
    while (psi <= DRIFT_ALERT_PSI && fed < WINDOW) {
      const file = dogs[fed % dogs.length]!;
      await (fed % 2 === 0 ? upload(file) : inferV2(file));
      fed++;
      psi = (await evidence()).drift.psi!;
    }
    console.log(`      PSI ${psi.toFixed(3)} after ${fed} dog photos (window ${WINDOW}, alert over ${DRIFT_ALERT_PSI})`);
    expect(psi).to.be.greaterThan(DRIFT_ALERT_PSI);
    expect(fed).to.be.at.most(WINDOW);
    const metrics = await receive(`${svc.url}/metrics`, { headers: auth(operator) });
    expect(samples(metrics.text).get('catdog_model_drift_psi{model="catdog",version="1"}')).to.be.greaterThan(DRIFT_ALERT_PSI);
  });

  it('counts a gRPC ModelInfer answer too', async function () {
    const conformance = need(this, 'conformance');
    const photos = locate('photos');
    if (!photos) this.skip();
    const dog = (await readLabelledFolder(photos)).find((p) => p.label.toLowerCase() === 'dog')!.file;
    const grpc = await startGrpc(svc.app);
    const clients = grpcClients(conformance, grpc.address);
    try {
      const before = (await evidence()).answers.Dog!;
      const request = { model_name: 'catdog', inputs: [{ name: 'image', datatype: 'BYTES', shape: [1], contents: { bytes_contents: [await readFile(dog)] } }] };
      expectOk(await unaryCall(clients.oip, 'ModelInfer', request, { metadata: { authorization: `Bearer ${operator}` } }));
      expect((await evidence()).answers.Dog).to.equal(before + 1);
    } finally {
      clients.close();
      await grpc.close();
    }
  });

  it('says the same in GET .../evidence and in /metrics', async function () {
    const photos = locate('photos');
    if (!photos) this.skip();
    // Whatever ran before, a few answers so that every instrument has something to say.
    for (const p of (await readLabelledFolder(photos)).slice(0, 3)) await upload(p.file);
    const body = await evidence();
    const metrics = await receive(`${svc.url}/metrics`, { headers: auth(operator) });
    expect(metrics.status).to.equal(200);
    const m = samples(metrics.text);
    const v = 'model="catdog",version="1"';
    for (const label of body.labels) expect(m.get(`catdog_model_answers_total{${v},label="${label}"}`), label).to.equal(body.answers[label]);
    for (const { le, count } of body.confidence.buckets) expect(m.get(`catdog_model_confidence_bucket{${v},le="${le}"}`), `le ${le}`).to.equal(count);
    expect(m.get(`catdog_model_confidence_count{${v}}`)).to.equal(body.confidence.count);
    expect(m.get(`catdog_model_confidence_sum{${v}}`)).to.be.closeTo(body.confidence.sum, 1e-9);
    expect(m.get(`catdog_model_low_confidence_answers_total{${v}}`)).to.equal(body.confidence.low);
    expect(m.get(`catdog_model_low_confidence_share{${v}}`)).to.be.closeTo(body.confidence.low_share!, 1e-12);
    expect(m.get(`catdog_model_drift_window_answers{${v}}`)).to.equal(body.drift.window_answers);
    expect(m.get(`catdog_model_drift_psi{${v}}`)).to.be.closeTo(body.drift.psi!, 1e-12);
    expect(m.get(`catdog_model_feedback_total{${v},outcome="correct"}`)).to.equal(body.feedback.correct);
    expect(m.get(`catdog_model_feedback_total{${v},outcome="incorrect"}`)).to.equal(body.feedback.incorrect);
    expect(body.confidence.count).to.equal(Object.values(body.answers).reduce((a, b) => a + b, 0));
    expect(body.history.reduce((n, h) => n + Object.values(h.answers).reduce((a, b) => a + b, 0), 0), 'the history holds every answer of this short run')
      .to.equal(body.confidence.count);
  });

  it('moves the accuracy with feedback, counting a capture labelled again once', async function () {
    const photos = locate('photos');
    if (!photos) this.skip();
    const dogs = (await readLabelledFolder(photos)).filter((p) => p.label.toLowerCase() === 'dog').slice(0, 2);
    const answers = [];
    for (const p of dogs) answers.push(await upload(p.file));
    expect(answers.map((a) => a.prediction)).to.deep.equal(['Dog', 'Dog']);
    for (const { id } of answers) {
      await waitFor(async () => (await receive(`${svc.url}/captures/${id}`, { headers: auth(operator) })).status === 200, `capture ${id}`);
    }
    const feedback = async (id: string, label: string): Promise<void> => {
      const res = await receive(`${svc.url}/feedback`, {
        method: 'POST',
        headers: { ...auth(operator), 'content-type': 'application/json' },
        body: JSON.stringify({ id, label }),
      });
      expect(res.status, res.text).to.equal(204);
    };
    const start = (await evidence()).feedback;
    await feedback(answers[0]!.id, 'dog');
    await feedback(answers[1]!.id, 'Cat');
    const judged = (await evidence()).feedback;
    expect(judged).to.include({ correct: start.correct + 1, incorrect: start.incorrect + 1 });
    expect(judged.accuracy).to.equal(judged.correct / (judged.correct + judged.incorrect));
    // The labeller corrects the second label: it was a dog after all.
    await feedback(answers[1]!.id, 'Dog');
    const corrected = (await evidence()).feedback;
    expect(corrected).to.deep.equal({ correct: start.correct + 2, incorrect: start.incorrect, accuracy: (start.correct + 2) / (start.correct + 2 + start.incorrect) });
    const m = samples((await receive(`${svc.url}/metrics`, { headers: auth(operator) })).text);
    expect(m.get('catdog_model_accuracy{model="catdog",version="1"}')).to.equal(corrected.accuracy);
  });
});
