/**
 * The Open Inference Protocol's routes under the spec's security, against a real identity
 * provider: inference needs a token with `get::prediction` (as `/upload`), health stays public,
 * metadata is public unless MODEL_METADATA_PUBLIC=false; refusals carry the protocol's `error`.
 */
import { expect } from 'chai';
import { createSecurityHandlers } from '../../src/auth/security-handler.js';
import { readSpec } from '../../src/spec.js';
import { startIdentityProvider, type IdentityProvider } from '../fixtures/identity-provider.js';
import { solidImage } from '../fixtures/images.js';
import { buildImagenetLikeModel, imagenetLikeManifest } from '../fixtures/onnx-models.js';
import { expectMatchesSpec } from '../support/contract.js';
import { expectMatchesStandard, needConformance } from '../support/oip.js';
import { startService, type RunningService } from '../support/service.js';
import { base64Request, postJson, receiveV2 } from '../support/v2.js';
import { verifierFor } from '../support/verifier.js';

describe('Open Inference Protocol (V2) authorisation', function () {
  this.timeout(60_000);
  let idp: IdentityProvider;
  let open: RunningService;
  let closed: RunningService;
  let request: Record<string, unknown>;

  before(async () => {
    idp = await startIdentityProvider();
    const start = (modelMetadataPublic: boolean) => {
      const verifier = verifierFor(idp, { jwksCooldownMs: 0, httpTimeoutMs: 1_000 });
      return startService({
        model: { bytes: buildImagenetLikeModel(), manifest: imagenetLikeManifest },
        securityHandlers: createSecurityHandlers(readSpec(), { verifier }),
        modelMetadataPublic,
      });
    };
    open = await start(true);
    closed = await start(false);
    request = base64Request([await solidImage('red')]);
  });
  after(async () => {
    await open?.close();
    await closed?.close();
    await idp?.close();
  });

  it('infer without a token: 401 token-missing with the Bearer challenge and the protocol\'s error; nothing classified', async function () {
    const before = open.classifications();
    const res = await postJson(`${open.url}/v2/models/catdog/infer`, request);
    expect(res.status).to.equal(401);
    expect(res.headers.get('www-authenticate')).to.equal('Bearer realm="cat-dog-other"');
    expect(res.body).to.include({ code: 'token-missing', error: 'This operation requires a bearer access token in the Authorization header' });
    expect(open.classifications()).to.equal(before);
    expectMatchesSpec(open.api, 'inferModel', res);
    needConformance(this);
    expectMatchesStandard('inferModel', res);
  });

  it('infer with a token lacking get::prediction: 403 insufficient-scope', async () => {
    const token = await idp.token('prediction-client', { scope: 'get::metrics' });
    const res = await postJson(`${open.url}/v2/models/catdog/infer`, request, { authorization: `Bearer ${token}` });
    expect(res.status, res.text).to.equal(403);
    expect(res.body).to.include({ code: 'insufficient-scope' });
    expectMatchesSpec(open.api, 'inferModel', res);
  });

  it('infer with a token with get::prediction: 200', async () => {
    const res = await postJson(`${open.url}/v2/models/catdog/versions/1/infer`, request, { authorization: `Bearer ${await idp.token()}` });
    expect(res.status, res.text).to.equal(200);
  });

  it('health and metadata are public by default', async () => {
    for (const route of ['/v2/health/live', '/v2/health/ready', '/v2', '/v2/models/catdog', '/v2/models/catdog/versions/1', '/v2/models/catdog/ready']) {
      expect((await receiveV2(`${open.url}${route}`, {})).status, route).to.equal(200);
    }
  });

  it('MODEL_METADATA_PUBLIC=false: metadata needs a token with get::prediction; health and model readiness stay public', async () => {
    for (const route of ['/v2', '/v2/models/catdog', '/v2/models/catdog/versions/1']) {
      const res = await receiveV2(`${closed.url}${route}`, {});
      expect(res.status, route).to.equal(401);
      expect(res.body).to.include({ code: 'token-missing' });
      const withToken = await receiveV2(`${closed.url}${route}`, { headers: { authorization: `Bearer ${await idp.token()}` } });
      expect(withToken.status, route).to.equal(200);
    }
    expectMatchesSpec(closed.api, 'getModelMetadata', await receiveV2(`${closed.url}/v2/models/catdog`, {}));
    for (const route of ['/v2/health/live', '/v2/health/ready', '/v2/models/catdog/ready']) {
      expect((await receiveV2(`${closed.url}${route}`, {})).status, route).to.equal(200);
    }
  });
});
