/**
 * Issue 22, item 4: the V2 model metadata is public, but the model file's SHA-256 (which
 * `/metrics` keeps behind `get::metrics`) is shown only to a caller whose token grants
 * `manage::models`, against a real identity provider; every answer matches the spec, whose
 * description and examples say the same.
 */
import { expect } from 'chai';
import { parse } from 'yaml';
import { createSecurityHandlers } from '../../src/auth/security-handler.js';
import { readSpec, readSpecText } from '../../src/spec.js';
import { generateSigningKey, manageScope, metricsScope, predictionScope, startIdentityProvider, type IdentityProvider } from '../fixtures/identity-provider.js';
import { buildImagenetLikeModel, imagenetLikeManifest } from '../fixtures/onnx-models.js';
import { claimsFor, signToken, tamperedToken } from '../fixtures/tokens.js';
import { expectMatchesSpec } from '../support/contract.js';
import { startService, type RunningService } from '../support/service.js';
import { receiveV2 } from '../support/v2.js';
import { verifierFor } from '../support/verifier.js';

const model = { bytes: buildImagenetLikeModel(), manifest: imagenetLikeManifest };
const routes = [
  ['getModelMetadata', '/v2/models/catdog'],
  ['getModelVersionMetadata', '/v2/models/catdog/versions/1'],
] as const;

type Metadata = { properties: Record<string, string> };

describe('V2 model metadata: the model\'s SHA-256 only for manage::models (issue 22)', function () {
  this.timeout(60_000);
  let idp: IdentityProvider;
  let open: RunningService;
  let closed: RunningService;
  let unprotected: RunningService;

  before(async () => {
    idp = await startIdentityProvider();
    const start = (modelMetadataPublic: boolean) =>
      startService({
        model,
        securityHandlers: createSecurityHandlers(readSpec(), { verifier: verifierFor(idp, { jwksCooldownMs: 0 }) }),
        modelMetadataPublic,
      });
    open = await start(true);
    closed = await start(false);
    unprotected = await startService({ model });
  });
  after(async () => {
    await open?.close();
    await closed?.close();
    await unprotected?.close();
    await idp?.close();
  });

  /** The `properties` of each metadata route of `svc` with `headers`, each answer 200 and as the spec says. */
  async function propertiesOf(svc: RunningService, headers: Record<string, string> = {}): Promise<Record<string, string>[]> {
    const found: Record<string, string>[] = [];
    for (const [operationId, route] of routes) {
      const res = await receiveV2(`${svc.url}${route}`, { headers });
      expect(res.status, `${route}: ${res.text}`).to.equal(200);
      expectMatchesSpec(svc.api, operationId, res);
      found.push((res.body as Metadata).properties);
    }
    return found;
  }
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

  it('hides it from a caller without a token, with the manifest and the layout still shown', async () => {
    for (const properties of await propertiesOf(open)) {
      expect(properties).to.deep.equal({ manifest: open.classifier.name, layout: 'NCHW' });
    }
  });

  it('hides it from tokens without manage::models: get::prediction, get::metrics', async () => {
    for (const scope of [predictionScope, `${predictionScope} ${metricsScope}`]) {
      for (const properties of await propertiesOf(open, bearer(await idp.token('operator-client', { scope })))) {
        expect(properties, scope).not.to.have.property('sha256');
      }
    }
  });

  it('hides it from an invalid token claiming manage::models (forged key, altered payload): the public answer', async () => {
    const forged = await signToken(claimsFor(idp, { scope: manageScope }), await generateSigningKey());
    const altered = tamperedToken(await idp.token(), { scope: `${predictionScope} ${manageScope}` });
    for (const token of [forged, altered]) {
      for (const properties of await propertiesOf(open, bearer(token))) expect(properties).not.to.have.property('sha256');
    }
  });

  it('shows it to a token with manage::models, alone or with other scopes', async () => {
    for (const scope of [manageScope, `${predictionScope} ${manageScope}`]) {
      for (const properties of await propertiesOf(open, bearer(await idp.token('operator-client', { scope })))) {
        expect(properties, scope).to.deep.equal({ manifest: open.classifier.name, sha256: open.classifier.sha256, layout: 'NCHW' });
      }
    }
  });

  it('with MODEL_METADATA_PUBLIC=false: the same rule among the tokens that may read the metadata', async () => {
    const prediction = await propertiesOf(closed, bearer(await idp.token()));
    const operator = await propertiesOf(closed, bearer(await idp.token('operator-client', { scope: `${predictionScope} ${manageScope}` })));
    for (const properties of prediction) expect(properties).not.to.have.property('sha256');
    for (const properties of operator) expect(properties).to.have.property('sha256', closed.classifier.sha256);
  });

  it('shows it when auth is disabled, as it opens /metrics and the management API', async () => {
    for (const properties of await propertiesOf(unprotected)) expect(properties).to.have.property('sha256', unprotected.classifier.sha256);
  });

  it('is what the spec says: the description names manage::models, one example without sha256 and one with it', () => {
    const spec = parse(readSpecText()) as {
      paths: Record<string, { get: { description: string } }>;
      components: {
        schemas: { V2ModelMetadata: { properties: { properties: { description: string } } } };
        responses: { V2ModelMetadata: { content: { 'application/json': { examples: Record<string, { summary: string; value: Metadata }> } } } };
      };
    };
    expect(spec.paths['/v2/models/{name}']!.get.description).to.match(/`properties\.sha256`[^.]*`manage::models`/);
    expect(spec.components.schemas.V2ModelMetadata.properties.properties.description).to.match(/`sha256`[^:]*`manage::models`/);
    const examples = Object.values(spec.components.responses.V2ModelMetadata.content['application/json'].examples);
    const withHash = examples.filter((e) => 'sha256' in e.value.properties);
    const withoutHash = examples.filter((e) => !('sha256' in e.value.properties));
    expect(withHash.map((e) => e.summary)).to.have.length(1).and.satisfy((s: string[]) => s[0]!.includes(manageScope));
    expect(withoutHash.map((e) => e.summary)).to.have.length(1).and.satisfy((s: string[]) => s[0]!.includes(manageScope));
  });
});
