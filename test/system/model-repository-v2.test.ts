/**
 * Issues 14 and 15 together, on the real process: the Open Inference Protocol's model routes go
 * through the model repository. A V2 path names the version it runs on, as `/upload?version=`
 * does; without one the repository chooses (the pinned version, else the newest READY one); a
 * version it has but does not serve is refused as `/upload` refuses it; V2 requests in flight
 * finish on their version across a swap; readiness follows the default model. Every answer is
 * checked against our spec and the published standards.
 */
import { expect } from 'chai';
import type { OpenAPIBackend } from 'openapi-backend';
import { solidImage } from '../fixtures/images.js';
import { createRepositoryDir, publishVersion, removeRepository } from '../fixtures/model-repository.js';
import { expectMatchesSpec, specApi, type Received } from '../support/contract.js';
import { expectMatchesStandard, needConformance } from '../support/oip.js';
import { spawnService, upload, type SpawnedService } from '../support/process.js';
import { base64Request, expectV2Problem, output, postJson, receiveV2, type ReceivedV2 } from '../support/v2.js';

async function manage(url: string, action: 'load' | 'unload', version?: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${url}/v2/repository/models/catdog/${action}`, {
    method: 'POST',
    ...(version === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ parameters: { version } }) }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('model repository through the Open Inference Protocol, on the real process (issues 14 and 15)', function () {
  this.timeout(120_000);
  let root: string;
  let svc: SpawnedService;
  let api: OpenAPIBackend;
  let red: Buffer;

  /** Checks `res` against our spec and, where the published texts are beside the checkout, the standard. */
  function expectConforms(context: Mocha.Context, operationId: string, res: ReceivedV2 | Received): void {
    expectMatchesSpec(api, operationId, res);
    needConformance(context);
    expectMatchesStandard(operationId, res, (res as ReceivedV2).header);
  }

  const infer = (path: string): Promise<ReceivedV2> => postJson(`${svc.url}${path}`, base64Request([red]));

  before(async () => {
    red = await solidImage('red');
    root = await createRepositoryDir();
    await publishVersion(root, 'catdog', '1');
    await publishVersion(root, 'catdog', '2');
    api = await specApi();
    svc = await spawnService({ MODEL_REPOSITORY: root, MODEL_CONTROL: 'explicit' });
  });
  after(async () => {
    await svc?.stop();
    await removeRepository(root);
  });

  it('GET /v2 lists model_repository among its extensions', async function () {
    const res = await receiveV2(`${svc.url}/v2`, {});
    expect(res.status).to.equal(200);
    expect((res.body as { extensions: string[] }).extensions).to.deep.equal(['binary_tensor_data', 'classification', 'model_repository']);
    expectConforms(this, 'getServerMetadata', res);
  });

  it('runs the version a V2 path names, as /upload?version= does; without one, the pinned version', async function () {
    // Version 2 serves; pinning 1 loads it beside 2, and requests naming no version go to 1.
    const pinned = await manage(svc.url, 'load', '1');
    expect(pinned.status).to.equal(200);
    expect(pinned.body).to.deep.include({ serving: '1', pinned: '1' });

    for (const version of ['1', '2']) {
      const res = await infer(`/v2/models/catdog/versions/${version}/infer`);
      expect(res.status, res.text).to.equal(200);
      expect(res.body).to.deep.include({ model_name: 'catdog', model_version: version });
      expect(output(res, 'label').data).to.deep.equal(['Cat']);
      expectMatchesSpec(api, 'inferModelVersion', res);
      expect((await upload(svc.url, red, 'red.png', `?version=${version}`)).body).to.deep.include({ prediction: 'Cat', model_version: version });
    }
    const chosen = await infer('/v2/models/catdog/infer');
    expect(chosen.body).to.deep.include({ model_name: 'catdog', model_version: '1' });
    expectMatchesSpec(api, 'inferModel', chosen);
    expect((await upload(svc.url, red)).body).to.deep.include({ model_version: '1' });

    const metadata = await receiveV2(`${svc.url}/v2/models/catdog`, {});
    expect(metadata.body).to.deep.include({ name: 'catdog', versions: ['2', '1'] });
    expectMatchesSpec(api, 'getModelMetadata', metadata);
    const ofVersion = await receiveV2(`${svc.url}/v2/models/catdog/versions/2`, {});
    expect(ofVersion.status, ofVersion.text).to.equal(200);
    expectMatchesSpec(api, 'getModelVersionMetadata', ofVersion);
    const ready = await receiveV2(`${svc.url}/v2/models/catdog/versions/2/ready`, {});
    expect(ready.status).to.equal(200);
    expect(ready.body).to.deep.equal({ name: 'catdog', ready: true });
    expectMatchesSpec(api, 'getModelVersionReady', ready);
    needConformance(this);
    expectMatchesStandard('inferModelVersion', (await infer('/v2/models/catdog/versions/2/infer')));
    expectMatchesStandard('getModelVersionMetadata', ofVersion);
    expectMatchesStandard('getModelVersionReady', ready);
  });

  it('refuses a version it has but does not keep loaded with 404 model-version-not-loaded saying how to load it, as /upload, and an unknown one with 404', async function () {
    // Published after start-up with MODEL_CONTROL=explicit: listed by the index, not loaded.
    await publishVersion(root, 'catdog', '3');
    const index = await fetch(`${svc.url}/v2/repository/index`, { method: 'POST' });
    expect(await index.json()).to.deep.include({ name: 'catdog', version: '3', state: 'UNAVAILABLE', reason: 'not loaded: version 1 serves' });

    // Waiting would not help (no Retry-After): the detail says how to load it.
    const detail = /^Model "catdog" version "3" is not loaded: the default version policy \(the version serving, the one before it and the newest\) keeps versions? [0-9, ]+ loaded\. To serve it, .*POST \/v2\/repository\/models\/catdog\/load \{"parameters":\{"version":"3"\}\}/;
    const notReady = await receiveV2(`${svc.url}/v2/models/catdog/versions/3/ready`, {});
    expectV2Problem(notReady, 404, 'model-version-not-loaded');
    expect((notReady.body as { detail: string }).detail).to.match(detail);
    expect(notReady.headers.get('retry-after')).to.equal(null);
    expectMatchesSpec(api, 'getModelVersionReady', notReady);
    const refused = await infer('/v2/models/catdog/versions/3/infer');
    expectV2Problem(refused, 404, 'model-version-not-loaded');
    expect((refused.body as { detail: string }).detail).to.match(detail);
    expectMatchesSpec(api, 'inferModelVersion', refused);
    const uploaded = await upload(svc.url, red, 'red.png', '?version=3');
    expect(uploaded.status).to.equal(404);
    expect(uploaded.body).to.deep.include({ code: 'model-version-not-loaded' });
    expect((uploaded.body as { detail: string }).detail).to.match(detail);

    for (const [path, operationId] of [
      ['/v2/models/catdog/versions/9/infer', 'inferModelVersion'],
      ['/v2/models/dogcat/infer', 'inferModel'],
    ] as const) {
      const res = await infer(path);
      expectV2Problem(res, 404, 'model-not-found');
      expectMatchesSpec(api, operationId, res);
    }
    const unknownReady = await receiveV2(`${svc.url}/v2/models/catdog/versions/9/ready`, {});
    expectV2Problem(unknownReady, 404, 'model-not-found');
    expectMatchesSpec(api, 'getModelVersionReady', unknownReady);
    needConformance(this);
    expectMatchesStandard('getModelVersionReady', notReady);
    expectMatchesStandard('inferModelVersion', refused);
    expectMatchesStandard('getModelVersionReady', unknownReady);
  });

  it('finishes V2 requests in flight on their version across a swap, and is ready only while the default model has a READY version', async () => {
    const answers: { status: number; version: unknown }[] = [];
    let running = true;
    const traffic = Promise.all([0, 1].map(async () => {
      while (running) {
        const res = await infer('/v2/models/catdog/infer');
        answers.push({ status: res.status, version: (res.body as { model_version?: unknown }).model_version });
      }
    }));
    try {
      // Unpinned: the newest version (3) is loaded, checked and switched to while V2 traffic runs.
      while (answers.length < 5) await new Promise((resolve) => setTimeout(resolve, 20));
      const loaded = await manage(svc.url, 'load');
      expect(loaded.status).to.equal(200);
      expect(loaded.body).to.deep.include({ serving: '3' });
      const settled = answers.length;
      while (answers.length < settled + 5) await new Promise((resolve) => setTimeout(resolve, 20));
    } finally {
      running = false;
      await traffic;
    }
    expect([...new Set(answers.map((a) => a.status))]).to.deep.equal([200]);
    expect([...new Set(answers.map((a) => a.version))].sort()).to.deep.equal(['1', '3']);
    expect(answers.at(-1)?.version).to.equal('3');

    const unloaded = await manage(svc.url, 'unload');
    expect(unloaded.status).to.equal(200);
    for (const path of ['/health/ready', '/v2/health/ready', '/v2/models/catdog/ready']) {
      expect((await fetch(`${svc.url}${path}`)).status, path).to.equal(503);
    }
    const v2Ready = await receiveV2(`${svc.url}/v2/health/ready`, {});
    expectV2Problem(v2Ready, 503, 'not-ready');
    expect(v2Ready.body).to.deep.include({ error: 'The default model has no version ready to serve' });
    expectMatchesSpec(api, 'getServerReady', v2Ready);

    expect((await manage(svc.url, 'load')).status).to.equal(200);
    for (const path of ['/health/ready', '/v2/health/ready', '/v2/models/catdog/ready']) {
      expect((await fetch(`${svc.url}${path}`)).status, path).to.equal(200);
    }
  });
});
