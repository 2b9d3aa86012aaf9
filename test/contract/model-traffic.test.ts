/**
 * Traffic between versions (issue 26, items 1 and 2) on the app over loopback HTTP and gRPC, with
 * a repository of two versions of the fixture model that answer a red image differently (version
 * 2 lists its labels as Dog, Cat, Other: it calls red Dog):
 *
 * - a canary of 20 % answers 20 % ± 4 of 1,000 clients (each its own loopback address), always
 *   the same version per client, and per token subject; `model_version` says which;
 * - a shadow leaves every answer to version 1 while the agreement metrics count version 2's;
 * - a candidate unloaded drops out of the split; a version outside the policy answers 404;
 * - the canary reaches /upload, V2 and gRPC inference alike (the one core);
 * - `GET`/`PUT …/traffic` need `manage::models` and answer as the spec says.
 */
import { request } from 'node:http';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'chai';
import { createSecurityHandlers } from '../../src/auth/security-handler.js';
import { readSpec } from '../../src/spec.js';
import { manageScope, startIdentityProvider, type IdentityProvider } from '../fixtures/identity-provider.js';
import { multipartBody, solidImage } from '../fixtures/images.js';
import { createRepositoryDir, publishVersion, removeRepository } from '../fixtures/model-repository.js';
import { expectMatchesSpec, receive, type Received } from '../support/contract.js';
import { need } from '../support/external.js';
import { expectOk, grpcClients, startGrpc, unaryCall } from '../support/grpc.js';
import { startRepositoryService, type RepositoryService } from '../support/service.js';
import { base64Request, expectV2Problem, postJson } from '../support/v2.js';
import { verifierFor } from '../support/verifier.js';

const BOUNDARY = 'traffic-test-boundary';

/** POST /upload of `image` from the loopback address `from` (the whole of 127/8 is the loopback's), without a token. */
function uploadFrom(url: string, from: string, image: Uint8Array): Promise<{ status: number; body: Record<string, unknown> }> {
  const body = multipartBody(BOUNDARY, [{ name: 'file', filename: 'red.png', type: 'image/png', data: image }]);
  return new Promise((resolve, reject) => {
    const req = request(`${url}/upload`, {
      method: 'POST',
      localAddress: from,
      agent: false,
      headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}`, 'content-length': body.length },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown> }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** The `i`-th of 1,000 distinct loopback addresses: 127.0.1.0 … 127.0.4.231. */
const addressOf = (i: number): string => `127.0.${1 + Math.floor(i / 256)}.${i % 256}`;

/** Runs `work` on `items`, `concurrency` at a time, and returns the results in order. */
async function pooled<T, R>(items: readonly T[], concurrency: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i]!);
    }
  }));
  return results;
}

/** The value of the Prometheus sample `name{labels}` in `text`, or 0. */
function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

describe('traffic between versions: canary, shadow, version policy (issue 26)', function () {
  this.timeout(180_000);
  let root: string;
  let red: Buffer;

  before(async () => {
    red = await solidImage('red');
    root = await createRepositoryDir();
    await publishVersion(root, 'catdog', '1');
    await publishVersion(root, 'catdog', '2', { labels: ['Dog', 'Cat', 'Other'], golden: [{ colour: 'red', label: 'Dog' }] });
    await publishVersion(root, 'catdog', '3');
  });
  after(async () => {
    await removeRepository(root);
  });

  describe('without tokens (clients told apart by address)', () => {
    let svc: RepositoryService;
    before(async () => {
      // Version 3 serves; the default policy keeps 2 (the one before) loaded, not 1.
      svc = await startRepositoryService(root);
    });
    after(async () => {
      await svc?.close();
    });

    const traffic = (body: unknown): Promise<Received> =>
      receive(`${svc.url}/v2/repository/models/catdog/traffic`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const metrics = async (): Promise<string> => (await fetch(`${svc.url}/metrics`)).text();

    it('a version outside the version policy answers 404 model-version-not-loaded, saying how to load it', async () => {
      const res = await receive(`${svc.url}/upload?version=1`, { method: 'POST', headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` }, body: multipartBody(BOUNDARY, [{ name: 'file', filename: 'red.png', type: 'image/png', data: red }]) });
      expect(res.status).to.equal(404);
      expect(res.body).to.deep.include({ code: 'model-version-not-loaded', title: 'Model version not loaded' });
      expect((res.body as { detail: string }).detail).to.equal(
        'Model "catdog" version "1" is not loaded: the default version policy (the version serving, the one before it and the newest) keeps versions 3, 2 loaded. '
        + 'To serve it, add it to "version_policy" in catdog/config.json and call POST /v2/repository/models/catdog/load, or load and pin it with '
        + 'POST /v2/repository/models/catdog/load {"parameters":{"version":"1"}} (scope manage::models)',
      );
      expectMatchesSpec(svc.api, 'classifyImage', res);
      const v2 = await postJson(`${svc.url}/v2/models/catdog/versions/1/infer`, base64Request([red]));
      expectV2Problem(v2, 404, 'model-version-not-loaded');
      expectMatchesSpec(svc.api, 'inferModelVersion', v2);
      // The one before the serving version is loaded: a rollback needs no load.
      expect((await uploadFrom(svc.url, '127.0.0.1', red)).body).to.deep.include({ model_version: '3' });
    });

    it('a model config.json with version_policy all loads every version; a load reads it', async () => {
      await writeFile(path.join(root, 'catdog', 'config.json'), JSON.stringify({ version_policy: { all: {} } }));
      const loaded = await receive(`${svc.url}/v2/repository/models/catdog/load`, { method: 'POST' });
      expect(loaded.status).to.equal(200);
      expect((loaded.body as { versions: { state: string }[] }).versions.map((v) => v.state)).to.deep.equal(['READY', 'READY', 'READY']);
      const res = await receive(`${svc.url}/upload?version=1`, { method: 'POST', headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` }, body: multipartBody(BOUNDARY, [{ name: 'file', filename: 'red.png', type: 'image/png', data: red }]) });
      expect(res.body).to.deep.include({ prediction: 'Cat', model_version: '1' });
      await writeFile(path.join(root, 'catdog', 'config.json'), JSON.stringify({ version_policy: { specific: { versions: [1, 2] } } }));
      expect((await receive(`${svc.url}/v2/repository/models/catdog/load`, { method: 'POST' })).body).to.deep.include({ serving: '2' });
    });

    it('canary 20 %: 20 % ± 4 of 1,000 clients are answered by version 2, each client always by the same version', async () => {
      // Version 1 serves (pinned), version 2 is the canary.
      expect((await receive(`${svc.url}/v2/repository/models/catdog/load`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ parameters: { version: '1' } }) })).status).to.equal(200);
      const set = await traffic({ canary: { version: '2', percent: 20 }, shadow: null });
      expect(set.status).to.equal(200);
      expectMatchesSpec(svc.api, 'setModelTraffic', set);
      expect(set.body).to.deep.equal({ name: 'catdog', serving: '1', canary: { version: '2', percent: 20 }, shadow: null, active: { canary: true, shadow: false } });

      const clients = Array.from({ length: 1_000 }, (_, i) => addressOf(i));
      const answers = await pooled(clients, 8, (from) => uploadFrom(svc.url, from, red));
      expect(answers.every((a) => a.status === 200)).to.equal(true);
      const byCandidate = answers.filter((a) => a.body.model_version === '2');
      expect(answers.filter((a) => a.body.model_version !== '1' && a.body.model_version !== '2')).to.deep.equal([]);
      expect(byCandidate.length).to.be.within(160, 240);
      // Each answer is its version's own: version 2 calls red Dog.
      expect(new Set(byCandidate.map((a) => a.body.prediction))).to.deep.equal(new Set(['Dog']));

      // Sticky: the first 100 clients again, three times each: the same version every time.
      const again = await pooled(clients.slice(0, 100).flatMap((from) => [from, from, from]), 8, (from) => uploadFrom(svc.url, from, red));
      again.forEach((a, i) => expect(a.body.model_version, clients[Math.floor(i / 3)]).to.equal(answers[Math.floor(i / 3)]!.body.model_version));
      expect(sample(await metrics(), 'catdog_model_classifications_total{model="catdog",version="2"}')).to.equal(byCandidate.length + again.filter((a) => a.body.model_version === '2').length);
    });

    it('the canary reaches V2 inference and gRPC through the same core', async function () {
      const conformance = need(this, 'conformance');
      await traffic({ canary: { version: '2', percent: 100 }, shadow: null });
      const v2 = await postJson(`${svc.url}/v2/models/catdog/infer`, base64Request([red]));
      expect(v2.status).to.equal(200);
      expect(v2.body).to.deep.include({ model_version: '2' });
      // A version named is that version, whatever the split.
      expect((await postJson(`${svc.url}/v2/models/catdog/versions/1/infer`, base64Request([red]))).body).to.deep.include({ model_version: '1' });
      const grpc = await startGrpc(svc.app);
      const clients = grpcClients(conformance, grpc.address);
      try {
        const answer = expectOk(await unaryCall<{ model_version: string }>(clients.oip, 'ModelInfer', { model_name: 'catdog', inputs: [{ name: 'image', datatype: 'BYTES', shape: [1], contents: { bytes_contents: [red] } }] }));
        expect(answer.model_version).to.equal('2');
      } finally {
        clients.close();
        await grpc.close();
      }
    });

    it('shadow: every answer is version 1\'s, and the agreement metrics count version 2\'s classifications', async () => {
      const set = await traffic({ canary: null, shadow: { version: '2' } });
      expect(set.body).to.deep.include({ serving: '1', canary: null, shadow: { version: '2' }, active: { canary: false, shadow: true } });
      const series = 'catdog_shadow_comparisons_total{model="catdog",version="2",serving_version="1",agree="false"}';
      const busy = 'catdog_shadow_skipped_total{model="catdog",version="2",reason="busy"}';
      const before = sample(await metrics(), series);
      const busyBefore = sample(await metrics(), busy);
      // One request at a time, each once the shadow of the one before is done: the gate is idle
      // after each answer, so every image (SHADOW_SAMPLE_RATE 1) is compared, none skipped.
      let text = await metrics();
      const accounted = (): number => sample(text, series) - before + sample(text, busy) - busyBefore;
      const answers = [];
      for (let i = 0; i < 40; i++) {
        answers.push(await uploadFrom(svc.url, addressOf(i), red));
        for (let wait = 0; wait < 400 && accounted() < i + 1; wait++) {
          await new Promise((resolve) => setTimeout(resolve, 10));
          text = await metrics();
        }
      }
      expect(new Set(answers.map((a) => `${a.status} ${a.body.model_version as string} ${a.body.prediction as string}`))).to.deep.equal(new Set(['200 1 Cat']));
      // Version 2 calls red Dog where version 1 calls it Cat: they disagree, by a measurable difference.
      expect(sample(text, series) - before).to.equal(40);
      expect(sample(text, busy) - busyBefore).to.equal(0);
      expect(sample(text, 'catdog_shadow_comparisons_total{model="catdog",version="2",serving_version="1",agree="true"}')).to.equal(0);
      const sum = sample(text, 'catdog_shadow_probability_difference_sum{model="catdog",version="2",serving_version="1"}');
      const count = sample(text, 'catdog_shadow_probability_difference_count{model="catdog",version="2",serving_version="1"}');
      expect(count).to.equal(sample(text, series));
      expect(sum / count).to.be.greaterThan(0.05);
    });

    it('a candidate unloaded drops out of the split (and of the setting); the serving version answers everyone', async () => {
      await traffic({ canary: { version: '2', percent: 50 }, shadow: null });
      const unloaded = await receive(`${svc.url}/v2/repository/models/catdog/unload`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ parameters: { version: '2' } }) });
      expect(unloaded.status).to.equal(200);
      const answers = await pooled(Array.from({ length: 100 }, (_, i) => addressOf(i)), 8, (from) => uploadFrom(svc.url, from, red));
      expect(new Set(answers.map((a) => a.body.model_version))).to.deep.equal(new Set(['1']));
      const status = await receive(`${svc.url}/v2/repository/models/catdog/traffic`, {});
      expect(status.status).to.equal(200);
      expectMatchesSpec(svc.api, 'getModelTraffic', status);
      expect(status.body).to.deep.equal({ name: 'catdog', serving: '1', canary: null, shadow: null, active: { canary: false, shadow: false } });
    });
  });

  describe('with tokens (clients told apart by subject)', () => {
    let idp: IdentityProvider;
    let svc: RepositoryService;
    before(async () => {
      // The default policy again: version 3 serves.
      await rm(path.join(root, 'catdog', 'config.json'), { force: true });
      idp = await startIdentityProvider();
      const verifier = verifierFor(idp);
      svc = await startRepositoryService(root, { securityHandlers: createSecurityHandlers(readSpec(), { verifier }), verifier });
    });
    after(async () => {
      await svc?.close();
      await idp?.close();
    });

    it('GET and PUT …/traffic need manage::models; a canary is sticky per token subject', async () => {
      const predictor = await idp.token('prediction-client');
      const operator = await idp.token('operator-client', { scope: `${manageScope} get::prediction` });
      const url = `${svc.url}/v2/repository/models/catdog/traffic`;
      const put = (token: string, body: unknown): Promise<Received> =>
        receive(url, { method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const refused = await put(predictor, { canary: null, shadow: null });
      expectV2Problem(refused, 403, 'insufficient-scope');
      expectMatchesSpec(svc.api, 'setModelTraffic', refused);
      expectV2Problem(await receive(url, {}), 401, 'token-missing');
      const invalid = await put(operator, { canary: { version: '2', percent: 101 } });
      expectV2Problem(invalid, 400, 'validation-failed');
      expectMatchesSpec(svc.api, 'setModelTraffic', invalid);
      const missing = await put(operator, { canary: { version: '9', percent: 10 } });
      expectV2Problem(missing, 404, 'model-not-found');

      const set = await put(operator, { canary: { version: '2', percent: 50 } });
      expect(set.status).to.equal(200);
      expect(set.body).to.deep.include({ serving: '3', canary: { version: '2', percent: 50 }, shadow: null });
      // Each subject sees one version, whichever it is.
      const seen = new Map<string, Set<unknown>>();
      for (const client of ['prediction-client', 'operator-client', 'scp-client', 'labeller-client'] as const) {
        const token = client === 'operator-client' ? operator : await idp.token(client);
        for (let i = 0; i < 4; i++) {
          const res = await receive(`${svc.url}/upload`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': `multipart/form-data; boundary=${BOUNDARY}` }, body: multipartBody(BOUNDARY, [{ name: 'file', filename: 'red.png', type: 'image/png', data: red }]) });
          expect(res.status).to.equal(200);
          seen.set(client, (seen.get(client) ?? new Set()).add((res.body as { model_version: unknown }).model_version));
        }
      }
      for (const [client, versions] of seen) expect(versions.size, client).to.equal(1);

      // The pinned version cannot be a candidate (409); a pin of the candidate promotes it and ends the canary.
      const promoted = await receive(`${svc.url}/v2/repository/models/catdog/load`, { method: 'POST', headers: { authorization: `Bearer ${operator}`, 'content-type': 'application/json' }, body: JSON.stringify({ parameters: { version: '2' } }) });
      expect(promoted.body).to.deep.include({ serving: '2', pinned: '2' });
      const conflict = await put(operator, { canary: { version: '2', percent: 10 } });
      expectV2Problem(conflict, 409, 'traffic-conflict');
      expectMatchesSpec(svc.api, 'setModelTraffic', conflict);
      const read = await receive(url, { headers: { authorization: `Bearer ${operator}` } });
      expect(read.body).to.deep.equal({ name: 'catdog', serving: '2', canary: null, shadow: null, active: { canary: false, shadow: false } });
    });
  });
});
