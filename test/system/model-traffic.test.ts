/**
 * Traffic between versions on the real process (`src/main.ts`, issue 26): the default version
 * policy keeps the one before the serving version loaded and answers 404 for one outside it; a
 * shadow candidate, loaded whatever the policy, leaves every answer to the serving version while
 * `/metrics` counts its disagreements; a canary of 100 % answers everything; the candidate's
 * unload ends it. Version 2 of the fixture lists its labels as Dog, Cat, Other: it calls red Dog.
 */
import { expect } from 'chai';
import { solidImage } from '../fixtures/images.js';
import { createRepositoryDir, publishVersion, removeRepository } from '../fixtures/model-repository.js';
import { spawnService, upload, type SpawnedService } from '../support/process.js';
import { waitFor } from '../support/wait.js';

describe('traffic between versions, on the real process (issue 26)', function () {
  this.timeout(120_000);
  let root: string;
  let svc: SpawnedService;
  let red: Buffer;

  before(async () => {
    red = await solidImage('red');
    root = await createRepositoryDir();
    await publishVersion(root, 'catdog', '1');
    await publishVersion(root, 'catdog', '2', { labels: ['Dog', 'Cat', 'Other'], golden: [{ colour: 'red', label: 'Dog' }] });
    await publishVersion(root, 'catdog', '3');
    svc = await spawnService({ MODEL_REPOSITORY: root, MODEL_CONTROL: 'explicit', SHADOW_SAMPLE_RATE: '1' });
  });
  after(async () => {
    await svc?.stop();
    await removeRepository(root);
  });

  const call = async (method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> => {
    const res = await fetch(`${svc.url}${path}`, {
      method,
      ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const metric = async (series: string): Promise<number> => {
    const line = (await (await fetch(`${svc.url}/metrics`)).text()).split('\n').find((l) => l.startsWith(`${series} `));
    return line ? Number(line.slice(series.length + 1)) : 0;
  };

  it('keeps the serving version and the one before it loaded; a version outside the policy answers 404 saying how to load it', async () => {
    expect((await upload(svc.url, red)).body).to.deep.include({ model_version: '3', prediction: 'Cat' });
    expect((await upload(svc.url, red, 'red.png', '?version=2')).body).to.deep.include({ model_version: '2', prediction: 'Dog' });
    const outside = await upload(svc.url, red, 'red.png', '?version=1');
    expect(outside.status).to.equal(404);
    expect(outside.body).to.deep.include({ code: 'model-version-not-loaded' });
    expect(outside.body.detail).to.contain('POST /v2/repository/models/catdog/load {"parameters":{"version":"1"}}');
  });

  it('shadow: every answer is the serving version\'s, and /metrics counts the candidate\'s disagreements', async () => {
    // Version 1 pinned (promoted back): the default policy then keeps 1 and the newest, 3; the shadow loads 2.
    expect((await call('POST', '/v2/repository/models/catdog/load', { parameters: { version: '1' } })).body).to.deep.include({ serving: '1', pinned: '1' });
    const set = await call('PUT', '/v2/repository/models/catdog/traffic', { canary: null, shadow: { version: '2' } });
    expect(set).to.deep.equal({ status: 200, body: { name: 'catdog', serving: '1', canary: null, shadow: { version: '2' }, active: { canary: false, shadow: true } } });
    const disagreed = 'catdog_shadow_comparisons_total{model="catdog",version="2",serving_version="1",agree="false"}';
    for (let i = 0; i < 20; i++) {
      const { status, body } = await upload(svc.url, red);
      expect([status, body.model_version, body.prediction]).to.deep.equal([200, '1', 'Cat']);
      // The next once this one's shadow is done: the process has spare capacity.
      for (let wait = 0; wait < 100 && (await metric(disagreed)) < i + 1; wait++) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(await metric(disagreed)).to.equal(20);
    expect(await metric('catdog_shadow_probability_difference_count{model="catdog",version="2",serving_version="1"}')).to.equal(20);
  });

  it('canary 100 %: version 2 answers everything until it is unloaded, which ends it', async () => {
    await call('PUT', '/v2/repository/models/catdog/traffic', { canary: { version: '2', percent: 100 } });
    expect((await upload(svc.url, red)).body).to.deep.include({ model_version: '2', prediction: 'Dog' });
    expect((await call('POST', '/v2/repository/models/catdog/unload', { parameters: { version: '2' } })).status).to.equal(200);
    expect((await upload(svc.url, red)).body).to.deep.include({ model_version: '1' });
    expect((await call('GET', '/v2/repository/models/catdog/traffic')).body).to.deep.include({ canary: null, shadow: null });
    await waitFor(() => /"msg":"model traffic set"/.test(svc.output()), 'the log line of the traffic set');
  });
});
