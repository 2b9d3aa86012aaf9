/**
 * The management API (Triton's model repository extension) as the spec describes it: the scope
 * `manage::models` against a real identity provider, each answer validated against the spec,
 * and the requests it refuses (unknown model or version, a body that is not what the spec
 * says, a server whose models are fixed). The swaps themselves: model-repository.test.ts.
 */
import { expect } from 'chai';
import { createSecurityHandlers } from '../../src/auth/security-handler.js';
import { readSpec } from '../../src/spec.js';
import { manageScope, startIdentityProvider, type IdentityProvider } from '../fixtures/identity-provider.js';
import { solidImage, uploadForm } from '../fixtures/images.js';
import { createRepositoryDir, publishVersion, removeRepository } from '../fixtures/model-repository.js';
import { buildImagenetLikeModel, imagenetLikeManifest } from '../fixtures/onnx-models.js';
import { expectMatchesSpec, expectProblem, receive, type Received } from '../support/contract.js';
import { startRepositoryService, startService, type RepositoryService } from '../support/service.js';
import { expectV2Problem } from '../support/v2.js';
import { verifierFor } from '../support/verifier.js';

describe('model repository management API (issue 15)', function () {
  this.timeout(60_000);
  let idp: IdentityProvider;
  let root: string;
  let svc: RepositoryService;
  let operator: string;
  let predictor: string;

  before(async () => {
    idp = await startIdentityProvider();
    root = await createRepositoryDir();
    await publishVersion(root, 'catdog', '1');
    await publishVersion(root, 'catdog', '2');
    await publishVersion(root, 'zero-shot', '1');
    const verifier = verifierFor(idp);
    svc = await startRepositoryService(root, { securityHandlers: createSecurityHandlers(readSpec(), { verifier }) });
    operator = await idp.token('operator-client', { scope: manageScope });
    predictor = await idp.token('prediction-client');
  });
  after(async () => {
    await svc?.close();
    await idp?.close();
    await removeRepository(root);
  });

  const post = (path: string, token: string | undefined, body?: unknown, type = 'application/json'): Promise<Received> =>
    receive(`${svc.url}${path}`, {
      method: 'POST',
      headers: {
        ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
        ...(body === undefined ? {} : { 'content-type': type }),
      },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });

  it('requires a token with the scope manage::models on each operation', async () => {
    for (const [operation, path] of [
      ['repositoryIndex', '/v2/repository/index'],
      ['loadModel', '/v2/repository/models/catdog/load'],
      ['unloadModel', '/v2/repository/models/catdog/unload'],
    ] as const) {
      const anonymous = await post(path, undefined);
      expectV2Problem(anonymous, 401, 'token-missing');
      expectMatchesSpec(svc.api, operation, anonymous);
      const underScoped = await post(path, predictor);
      expectV2Problem(underScoped, 403, 'insufficient-scope');
      expect(underScoped.headers.get('www-authenticate')).to.equal('Bearer realm="cat-dog-other", error="insufficient_scope", scope="manage::models"');
      expectMatchesSpec(svc.api, operation, underScoped);
    }
    // The operator's token does not classify unless it asked for that scope too.
    const upload = await receive(`${svc.url}/upload`, { method: 'POST', body: uploadForm(await solidImage('red')), headers: { authorization: `Bearer ${operator}` } });
    expectProblem(upload, 403, 'insufficient-scope');
  });

  it('lists every model and version with its state, or the READY ones', async () => {
    const all = await post('/v2/repository/index', operator);
    expect(all.status).to.equal(200);
    expectMatchesSpec(svc.api, 'repositoryIndex', all);
    expect(all.headers.get('cache-control')).to.equal('no-store');
    // The default version policy keeps the one before the serving version loaded.
    expect(all.body).to.deep.equal([
      { name: 'catdog', version: '1', state: 'READY', reason: '' },
      { name: 'catdog', version: '2', state: 'READY', reason: '' },
      { name: 'zero-shot', version: '1', state: 'READY', reason: '' },
    ]);
    const ready = await post('/v2/repository/index', operator, { ready: true });
    expectMatchesSpec(svc.api, 'repositoryIndex', ready);
    expect((ready.body as { version: string }[]).map((e) => e.version)).to.deep.equal(['1', '2', '1']);
  });

  it('lists a version published since, without loading it (MODEL_CONTROL=explicit)', async () => {
    await publishVersion(root, 'catdog', '3');
    const index = await post('/v2/repository/index', operator);
    expect(index.body).to.deep.include({ name: 'catdog', version: '3', state: 'UNAVAILABLE', reason: 'not loaded: version 2 serves' });
    const upload = await receive(`${svc.url}/upload`, { method: 'POST', body: uploadForm(await solidImage('red')), headers: { authorization: `Bearer ${await idp.token('operator-client')}` } });
    expect(upload.body).to.deep.include({ model_version: '2' });
    const loaded = await post('/v2/repository/models/catdog/load', operator);
    expect(loaded.status).to.equal(200);
    expectMatchesSpec(svc.api, 'loadModel', loaded);
    expect(loaded.body).to.deep.include({ name: 'catdog', serving: '3' });
  });

  it('loads and pins a version, unloads one, and says what serves', async () => {
    const pinned = await post('/v2/repository/models/catdog/load', operator, { parameters: { version: '1' } });
    expect(pinned.status).to.equal(200);
    expectMatchesSpec(svc.api, 'loadModel', pinned);
    expect(pinned.body).to.deep.include({ name: 'catdog', serving: '1', pinned: '1' });
    const unloaded = await post('/v2/repository/models/catdog/unload', operator, { parameters: { version: '1' } });
    expect(unloaded.status).to.equal(200);
    expectMatchesSpec(svc.api, 'unloadModel', unloaded);
    expect(unloaded.body).to.deep.include({ name: 'catdog', serving: '3' });
    expect(unloaded.body).to.not.have.property('pinned');
  });

  it('answers 404 for a model or version the repository does not have', async () => {
    for (const [operation, path, body, detail] of [
      ['loadModel', '/v2/repository/models/dogcat/load', undefined, 'No model named "dogcat"'],
      ['loadModel', '/v2/repository/models/catdog/load', { parameters: { version: '9' } }, 'Model "catdog" has no version "9"'],
      ['unloadModel', '/v2/repository/models/dogcat/unload', undefined, 'No model named "dogcat"'],
      ['unloadModel', '/v2/repository/models/catdog/unload', { parameters: { version: '9' } }, 'Model "catdog" has no version "9"'],
    ] as const) {
      const res = await post(path, operator, body);
      expectV2Problem(res, 404, 'model-not-found');
      expect((res.body as { detail: string }).detail).to.equal(detail);
      expectMatchesSpec(svc.api, operation, res);
    }
  });

  it('refuses a body that is not JSON, not JSON at all, or not what the spec says', async () => {
    const text = await post('/v2/repository/models/catdog/load', operator, 'version=1', 'text/plain');
    expectV2Problem(text, 415, 'unsupported-media-type');
    expectMatchesSpec(svc.api, 'loadModel', text);
    const broken = await post('/v2/repository/models/catdog/load', operator, '{"parameters":', 'application/json');
    expectV2Problem(broken, 400, 'bad-request');
    expectMatchesSpec(svc.api, 'loadModel', broken);
    for (const body of [{ parameters: { version: '01' } }, { parameters: { version: 2 } }, { parameters: { config: '{}' } }, { version: '1' }]) {
      const res = await post('/v2/repository/models/catdog/load', operator, body);
      expectV2Problem(res, 400, 'validation-failed');
      expectMatchesSpec(svc.api, 'loadModel', res);
    }
    const large = await post('/v2/repository/index', operator, { ready: true, padding: 'x'.repeat(20_000) });
    expectV2Problem(large, 413, 'payload-too-large');
    expectMatchesSpec(svc.api, 'repositoryIndex', large);
    const badName = await post('/v2/repository/models/..%2Fetc/load', operator);
    expect(badName.status).to.be.oneOf([400, 404]);
  });

  it('answers 409 model-control-disabled where models are fixed, and still lists them', async () => {
    const fixed = await startService({ model: { bytes: buildImagenetLikeModel(), manifest: imagenetLikeManifest } });
    try {
      const load = await receive(`${fixed.url}/v2/repository/models/catdog/load`, { method: 'POST' });
      expectV2Problem(load, 409, 'model-control-disabled');
      expectMatchesSpec(fixed.api, 'loadModel', load);
      const unload = await receive(`${fixed.url}/v2/repository/models/catdog/unload`, { method: 'POST' });
      expectV2Problem(unload, 409, 'model-control-disabled');
      const index = await receive(`${fixed.url}/v2/repository/index`, { method: 'POST' });
      expect(index.body).to.deep.equal([{ name: 'catdog', version: '1', state: 'READY', reason: '' }]);
    } finally {
      await fixed.close();
    }
  });
});
