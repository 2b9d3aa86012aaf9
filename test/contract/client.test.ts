/**
 * The generated client (`src/client/`) against the real service: its calls reach the operations
 * the spec names, its results carry the spec's types, and what it receives matches the spec.
 */
import { expect } from 'chai';
import { classifyImage, createClassifierClient } from '../../src/client/index.js';
import { buildImagenetLikeModel, imagenetLikeManifest } from '../fixtures/onnx-models.js';
import { solidImage } from '../fixtures/images.js';
import { expectMatchesSpec, receivedFromClient } from '../support/contract.js';
import { startService, type RunningService } from '../support/service.js';

describe('generated client', () => {
  let svc: RunningService;
  before(async () => {
    svc = await startService({ model: { bytes: buildImagenetLikeModel(), manifest: imagenetLikeManifest } });
  });
  after(() => svc.close());

  it('GET /health resolves to the typed {"status":"OK"}', async () => {
    const client = createClassifierClient({ baseUrl: svc.url });
    const result = await client.GET('/health');
    expect(result.data?.status).to.equal('OK');
    expectMatchesSpec(svc.api, 'getHealth', receivedFromClient(result));
  });

  it('classifies an image sent as bytes, and the prediction names one of the labels', async () => {
    const client = createClassifierClient({ baseUrl: `${svc.url}/` });
    const result = await classifyImage(client, await solidImage('red'), { filename: 'red.png', type: 'image/png' });
    expect(result.response.status).to.equal(200);
    expectMatchesSpec(svc.api, 'classifyImage', receivedFromClient(result));
    expect(result.data?.prediction).to.equal('Cat');
    expect(result.data?.labels).to.deep.equal(['Cat', 'Dog', 'Other']);
  });

  it('classifies an image sent as a Blob', async () => {
    const client = createClassifierClient({ baseUrl: svc.url });
    const { data } = await classifyImage(client, new Blob([await solidImage('blue', 'jpeg')], { type: 'image/jpeg' }));
    expect(data?.prediction).to.equal('Other');
  });

  it('resolves a refusal to the typed problem, not to data', async () => {
    const client = createClassifierClient({ baseUrl: svc.url });
    const result = await classifyImage(client, Buffer.from('not pixels'), { filename: 'a.txt', type: 'text/plain' });
    expect(result.data).to.equal(undefined);
    expect(result.error?.code).to.equal('image-undecodable');
    expect(result.error?.status).to.equal(422);
    expectMatchesSpec(svc.api, 'classifyImage', receivedFromClient(result));
  });

  it('sends the token as a bearer credential, a fresh one per request when given a function', async () => {
    const seen: (string | null)[] = [];
    const recording = (request: Request) => {
      seen.push(request.headers.get('authorization'));
      return fetch(request);
    };
    let n = 0;
    const fixed = createClassifierClient({ baseUrl: svc.url, token: 'abc', fetch: recording });
    const refreshed = createClassifierClient({ baseUrl: svc.url, token: async () => `t${++n}`, fetch: recording });
    const none = createClassifierClient({ baseUrl: svc.url, fetch: recording });
    await fixed.GET('/health');
    await refreshed.GET('/health');
    await refreshed.GET('/health');
    await none.GET('/health');
    expect(seen).to.deep.equal(['Bearer abc', 'Bearer t1', 'Bearer t2', null]);
  });
});
