/**
 * Issue 15 on the real process: the service spawned on a model repository it polls, with
 * uploads running throughout, while the test publishes, breaks, completes and removes versions
 * and drives the management API. Nothing a client sends fails while versions come and go;
 * refused versions say why in the index, the log and the metrics.
 */
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'chai';
import { solidImage } from '../fixtures/images.js';
import {
  createRepositoryDir,
  fixtureModelBytes,
  publishVersion,
  removeRepository,
  writeVersionFiles,
} from '../fixtures/model-repository.js';
import { spawnService, upload, type SpawnedService } from '../support/process.js';

interface IndexLine {
  readonly name: string;
  readonly version: string;
  readonly state: string;
  readonly reason: string;
}

/** Uploads one after another on `connections` connections until stopped; records every answer. */
class Traffic {
  /** Every answer, with when its request was sent (`performance.now()`). */
  readonly answers: { status: number; version: unknown; sent: number }[] = [];
  private running = true;
  private readonly done: Promise<void[]>;

  constructor(url: string, image: Buffer, connections = 2) {
    this.done = Promise.all(
      Array.from({ length: connections }, async () => {
        while (this.running) {
          const sent = performance.now();
          const { status, body } = await upload(url, image);
          this.answers.push({ status, version: body.model_version, sent });
        }
      }),
    );
  }

  /**
   * Resolves once a request sent after `since` is answered: a request sent before a switch may be
   * answered after it by the version it was given, so only the ones sent later say what serves.
   */
  async answeredSince(since: number): Promise<void> {
    await until('traffic sent after the switch answered', async () => this.answers.some((a) => a.sent > since));
  }

  async stop(since = Infinity): Promise<{ statuses: Set<number>; versions: Set<unknown>; after: Set<unknown> }> {
    this.running = false;
    await this.done;
    return {
      statuses: new Set(this.answers.map((a) => a.status)),
      versions: new Set(this.answers.map((a) => a.version)),
      // The versions that answered the requests sent after `since`.
      after: new Set(this.answers.filter((a) => a.sent > since).map((a) => a.version)),
    };
  }
}

async function index(url: string): Promise<IndexLine[]> {
  const res = await fetch(`${url}/v2/repository/index`, { method: 'POST' });
  expect(res.status).to.equal(200);
  return (await res.json()) as IndexLine[];
}

async function manage(url: string, action: 'load' | 'unload', name: string, version?: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${url}/v2/repository/models/${name}/${action}`, {
    method: 'POST',
    ...(version === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ parameters: { version } }) }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** Waits for `condition`, checking every 100 ms; fails with `what` after `ms`. */
async function until(what: string, condition: () => Promise<boolean>, ms = 45_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const servingVersion = async (url: string, image: Buffer): Promise<unknown> => (await upload(url, image)).body.model_version;

describe('model repository, on the real process (issue 15)', function () {
  this.timeout(120_000);
  let root: string;
  let svc: SpawnedService;
  let red: Buffer;

  before(async () => {
    red = await solidImage('red');
    root = await createRepositoryDir();
    await publishVersion(root, 'catdog', '1');
    // Triton's default policy, only the newest loaded, so that a replaced version closes (the
    // service's default keeps the one before it: test/system/model-traffic.test.ts).
    await writeFile(path.join(root, 'catdog', 'config.json'), JSON.stringify({ version_policy: { latest: { num_versions: 1 } } }));
    svc = await spawnService({ MODEL_REPOSITORY: root, MODEL_CONTROL: 'poll', MODEL_POLL_INTERVAL_MS: '200' });
  });
  after(async () => {
    await svc?.stop();
    await removeRepository(root);
  });

  const line = async (version: string): Promise<IndexLine | undefined> => (await index(svc.url)).find((e) => e.name === 'catdog' && e.version === version);

  it('refuses a corrupt file, an invalid manifest and a golden mismatch, each with its reason, and keeps serving', async () => {
    const traffic = new Traffic(svc.url, red);
    await publishVersion(root, 'catdog', '2', { broken: 'checksum' });
    await publishVersion(root, 'catdog', '3', { broken: 'manifest' });
    await publishVersion(root, 'catdog', '4', { golden: [{ colour: 'red', label: 'Cat' }, { colour: 'blue', label: 'Dog' }] });
    await until('version 4 refused', async () => (await line('4'))?.state === 'UNAVAILABLE' && (await line('4'))?.reason !== '');
    await until('versions 2 and 3 refused', async () => (await line('2'))?.reason.includes('SHA-256') === true && (await line('3'))?.reason.startsWith('invalid') === true);
    const { statuses, versions } = await traffic.stop();
    expect([...statuses]).to.deep.equal([200]);
    expect([...versions]).to.deep.equal(['1']);

    expect(await line('2')).to.deep.include({ state: 'UNAVAILABLE' });
    expect((await line('2'))!.reason).to.match(/^model\.onnx: SHA-256 is [0-9a-f]{64}, the manifest pins c{64}$/);
    expect((await line('3'))!.reason).to.equal('invalid manifest.json: /labels must NOT have fewer than 1 items');
    expect((await line('4'))!.reason).to.equal('golden examples answered otherwise: golden/1-blue.png answered Other, expected Dog');
    expect(await line('1')).to.deep.equal({ name: 'catdog', version: '1', state: 'READY', reason: '' });

    const log = svc.output();
    expect(log).to.match(/"model":"catdog","version":"2","code":"model-checksum-mismatch"[^\n]*"msg":"model version refused"/);
    expect(log).to.match(/"model":"catdog","version":"4","code":"golden-mismatch"[^\n]*"msg":"model version refused"/);
    const metrics = await (await fetch(`${svc.url}/metrics`)).text();
    expect(metrics).to.contain('catdog_model_loads_total{model="catdog",outcome="model-checksum-mismatch"} 1');
    expect(metrics).to.contain('catdog_model_loads_total{model="catdog",outcome="manifest-invalid"} 1');
    expect(metrics).to.contain('catdog_model_loads_total{model="catdog",outcome="golden-mismatch"} 1');
    expect(metrics).to.contain('catdog_model_versions{model="catdog",state="UNAVAILABLE"} 3');
  });

  it('retries a half-copied version at the next scan and serves it only once it verifies, without a failed request', async () => {
    const traffic = new Traffic(svc.url, red);
    // Written in place, not renamed: the model file arrives in two halves.
    const dir = path.join(root, 'catdog', '5');
    await writeVersionFiles(dir, { truncateTo: 100 });
    await until('version 5 seen half-copied', async () => (await line('5'))?.reason.includes('SHA-256') === true);
    expect(await servingVersion(svc.url, red)).to.equal('1');
    await writeFile(path.join(dir, 'model.onnx'), fixtureModelBytes());
    await until('version 5 serves', async () => (await servingVersion(svc.url, red)) === '5');
    const switched = performance.now();
    await traffic.answeredSince(switched);
    const { statuses, versions, after } = await traffic.stop(switched);
    expect([...statuses]).to.deep.equal([200]);
    expect([...versions].sort()).to.deep.equal(['1', '5']);
    expect([...after]).to.deep.equal(['5']);
    // The replaced version closes once its last request is answered: UNLOADING until then.
    await until('version 1 closed', async () => (await line('1'))?.state === 'UNAVAILABLE');
    expect(await line('1')).to.deep.include({ state: 'UNAVAILABLE', reason: 'not loaded: version 5 serves' });
  });

  it('falls back to the previous version when the newest folder is removed, without a failed request', async () => {
    const traffic = new Traffic(svc.url, red);
    await rm(path.join(root, 'catdog', '5'), { recursive: true });
    await until('version 1 serves again', async () => (await servingVersion(svc.url, red)) === '1');
    await until('version 5 forgotten', async () => (await line('5')) === undefined);
    const forgotten = performance.now();
    await traffic.answeredSince(forgotten);
    const { statuses, after } = await traffic.stop(forgotten);
    expect([...statuses]).to.deep.equal([200]);
    expect([...after]).to.deep.equal(['1']);
  });

  it('chooses versions by query parameter, pinned or newest', async () => {
    await publishVersion(root, 'catdog', '6');
    await until('version 6 serves', async () => (await servingVersion(svc.url, red)) === '6');
    await until('version 1 closed', async () => (await line('1'))?.state === 'UNAVAILABLE');
    const asked = async (query: string): Promise<{ status: number; version: unknown; code: unknown; detail: unknown }> => {
      const { status, body } = await upload(svc.url, red, 'red.png', query);
      return { status, version: body.model_version, code: body.code, detail: body.detail };
    };
    expect(await asked('?version=6')).to.deep.include({ status: 200, version: '6' });
    expect(await asked('?version=1')).to.deep.include({
      status: 404,
      code: 'model-version-not-loaded',
      detail: 'Model "catdog" version "1" is not loaded: version_policy latest 1 keeps version 6 loaded. To serve it, add it to "version_policy" in catdog/config.json '
        + 'and call POST /v2/repository/models/catdog/load, or load and pin it with POST /v2/repository/models/catdog/load {"parameters":{"version":"1"}} (scope manage::models)',
    });
    expect(await asked('?version=99')).to.deep.include({ status: 404, code: 'model-not-found' });
    expect(await asked('?model=dogcat')).to.deep.include({ status: 404, code: 'model-not-found' });
    expect(await asked('?version=1.5')).to.deep.include({ status: 400, code: 'validation-failed' });

    const pinned = await manage(svc.url, 'load', 'catdog', '1');
    expect(pinned.status).to.equal(200);
    expect(pinned.body).to.deep.include({ name: 'catdog', serving: '1', pinned: '1' });
    expect(await asked('')).to.deep.include({ status: 200, version: '1' });
    expect(await asked('?version=1')).to.deep.include({ status: 200, version: '1' });
    expect(await asked('?version=6')).to.deep.include({ status: 200, version: '6' });
    expect(await asked('?model=catdog&version=6')).to.deep.include({ status: 200, version: '6' });

    const unpinned = await manage(svc.url, 'load', 'catdog');
    expect(unpinned.body).to.deep.include({ serving: '6' });
    expect(unpinned.body).to.not.have.property('pinned');
    expect(await asked('')).to.deep.include({ status: 200, version: '6' });
  });

  it('answers 409 to a second load of a model while the first is in progress', async () => {
    // Version 1 is not loaded (6 serves) and nothing new is on disk for the poller to load: the
    // first request starts a load (a new inference worker, its session, the checks), during which
    // the second arrives.
    // Unpinned just before, version 1 may still be finishing its requests (UNLOADING).
    await until('version 1 closed', async () => (await line('1'))?.state === 'UNAVAILABLE');
    const answers = await Promise.all([manage(svc.url, 'load', 'catdog', '1'), manage(svc.url, 'load', 'catdog', '1')]);
    expect(answers.map((a) => a.status).sort()).to.deep.equal([200, 409]);
    const busy = answers.find((a) => a.status === 409)!.body;
    expect(busy).to.deep.include({ code: 'model-busy', title: 'Model busy', detail: 'Model "catdog" is busy (loading version 1); retry once it is done' });
    expect(answers.find((a) => a.status === 200)!.body).to.deep.include({ serving: '1', pinned: '1' });
  });

  it('unloads the default model: /upload answers 503 model-unavailable and readiness is false until it is loaded again', async () => {
    const unloaded = await manage(svc.url, 'unload', 'catdog');
    expect(unloaded.status).to.equal(200);
    expect(unloaded.body).to.not.have.property('serving');
    const refused = await upload(svc.url, red);
    expect(refused.status).to.equal(503);
    expect(refused.body).to.deep.include({ code: 'model-unavailable', detail: 'Model "catdog" is not available: unloaded' });
    expect(refused.headers.get('retry-after')).to.equal('5');
    const ready = await fetch(`${svc.url}/health/ready`);
    expect(ready.status).to.equal(503);
    expect(await ready.json()).to.deep.include({ code: 'not-ready', detail: 'The default model has no version ready to serve' });
    // Polling leaves an unloaded model alone.
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect((await upload(svc.url, red)).status).to.equal(503);

    const loaded = await manage(svc.url, 'load', 'catdog');
    expect(loaded.status).to.equal(200);
    expect((await fetch(`${svc.url}/health/ready`)).status).to.equal(200);
    expect((await upload(svc.url, red)).status).to.equal(200);
  });

  it('answers 422 to a load whose version is refused, and keeps serving', async () => {
    await publishVersion(root, 'catdog', '8', { broken: 'graph' });
    // The poller tries it first; a load through the API tries it again.
    await until('version 8 refused', async () => (await line('8'))?.reason.startsWith('onnxruntime') === true);
    const before = await servingVersion(svc.url, red);
    const answer = await manage(svc.url, 'load', 'catdog', '8');
    expect(answer.status).to.equal(422);
    expect(answer.body.code).to.equal('model-load-failed');
    expect(answer.body.detail).to.match(new RegExp(`^Model "catdog" version "8" was refused: onnxruntime cannot load the model: .*; version ${String(before)} keeps serving$`));
    expect(await servingVersion(svc.url, red)).to.equal(before);
  });
});
