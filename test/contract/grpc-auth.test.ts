/**
 * gRPC calls under the spec's security, against a real identity provider: the token as
 * `authorization` metadata, verified as on REST, with the scope of each RPC's REST twin;
 * UNAUTHENTICATED / PERMISSION_DENIED with the reason; public RPCs without a token.
 */
import type { Duplex } from 'node:stream';
import { status } from '@grpc/grpc-js';
import { expect } from 'chai';
import { need } from '../support/external.js';
import { startIdentityProvider, type IdentityProvider } from '../fixtures/identity-provider.js';
import { solidImage } from '../fixtures/images.js';
import { buildImagenetLikeModel, imagenetLikeManifest } from '../fixtures/onnx-models.js';
import { expectOk, expectStatus, grpcClients, startGrpc, unaryCall, type GrpcClients, type RunningGrpc } from '../support/grpc.js';
import { startService, type RunningService } from '../support/service.js';
import { verifierFor } from '../support/verifier.js';

describe('gRPC authorisation', function () {
  this.timeout(60_000);
  let idp: IdentityProvider;
  let svc: RunningService;
  let grpc: RunningGrpc;
  let clients: GrpcClients;
  let request: object;

  before(async function () {
    const conformance = need(this, 'conformance');
    idp = await startIdentityProvider();
    svc = await startService({
      model: { bytes: buildImagenetLikeModel(), manifest: imagenetLikeManifest },
      verifier: verifierFor(idp, { jwksCooldownMs: 0, httpTimeoutMs: 1_000 }),
    });
    grpc = await startGrpc(svc.app);
    clients = grpcClients(conformance, grpc.address);
    request = { model_name: 'catdog', inputs: [{ name: 'image', datatype: 'BYTES', shape: [1], contents: { bytes_contents: [await solidImage('red')] } }] };
  });
  after(async () => {
    clients?.close();
    await grpc?.close();
    await svc?.close();
    await idp?.close();
  });

  it('ModelInfer without a token: UNAUTHENTICATED token-missing, nothing classified; the next call served', async () => {
    const before = svc.classifications();
    const refused = expectStatus(await unaryCall(clients.oip, 'ModelInfer', request), status.UNAUTHENTICATED, 'token-missing');
    expect(refused.details).to.match(/bearer access token/);
    expect(svc.classifications()).to.equal(before);
    expectOk(await unaryCall(clients.oip, 'ModelInfer', request, { token: await idp.token() }));
  });

  it('a forged token (its signature altered), or not a bearer token: UNAUTHENTICATED invalid-token', async () => {
    const token = await idp.token();
    const forged = token.slice(0, -6) + (token.endsWith('AAAAAA') ? 'BBBBBB' : 'AAAAAA');
    const refused = expectStatus(await unaryCall(clients.oip, 'ModelInfer', request, { token: forged }), status.UNAUTHENTICATED, 'invalid-token');
    expect(refused.details).to.equal('The access token signature is invalid');
    expectStatus(await unaryCall(clients.oip, 'ModelInfer', request, { metadata: { authorization: 'Bearer not a token' } }), status.UNAUTHENTICATED, 'invalid-token');
    expectStatus(await unaryCall(clients.oip, 'ModelInfer', request, { metadata: { authorization: 'Basic dXNlcjpwYXNz' } }), status.UNAUTHENTICATED, 'token-missing');
  });

  it('a token without get::prediction: PERMISSION_DENIED insufficient-scope naming the scope', async () => {
    const token = await idp.token('prediction-client', { scope: 'get::metrics' });
    const refused = expectStatus(await unaryCall(clients.oip, 'ModelInfer', request, { token }), status.PERMISSION_DENIED, 'insufficient-scope');
    expect(refused.details).to.equal('The access token lacks the scope get::prediction');
  });

  it('the stream needs get::prediction too: refused with its status before any request is read', async () => {
    const stream = (clients.triton.ModelStreamInfer as () => Duplex)();
    const outcome = await new Promise<{ code: number }>((resolve) => {
      stream.on('data', () => resolve({ code: -1 }));
      stream.on('error', (err: { code: number }) => resolve(err));
      stream.write(request);
    });
    expect(outcome.code).to.equal(status.UNAUTHENTICATED);
  });

  it('the repository RPCs need manage::models: a prediction token is PERMISSION_DENIED, a management token served', async () => {
    expectStatus(await unaryCall(clients.triton, 'RepositoryIndex', {}, { token: await idp.token() }), status.PERMISSION_DENIED, 'insufficient-scope');
    const manage = await idp.token('operator-client', { scope: 'manage::models' });
    expect(expectOk(await unaryCall<{ models: unknown[] }>(clients.triton, 'RepositoryIndex', {}, { token: manage })).models).to.have.length(1);
  });

  it('health, readiness and (by default) metadata are public', async () => {
    expectOk(await unaryCall(clients.oip, 'ServerLive', {}));
    expectOk(await unaryCall(clients.oip, 'ServerReady', {}));
    expectOk(await unaryCall(clients.oip, 'ModelReady', { name: 'catdog' }));
    expectOk(await unaryCall(clients.oip, 'ServerMetadata', {}));
    expectOk(await unaryCall(clients.oip, 'ModelMetadata', { name: 'catdog' }));
    expectOk(await unaryCall(clients.health, 'Check', { service: '' }));
  });
});
