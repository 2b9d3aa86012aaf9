/**
 * Triton's repository RPCs on a real model repository (MODEL_CONTROL=explicit), with the scope
 * manage::models: the index, a load that switches and pins a version, an unload, and their
 * refusals; ModelReady and grpc.health.v1 follow what serves.
 */
import { status } from '@grpc/grpc-js';
import { expect } from 'chai';
import { manageScope, startIdentityProvider, type IdentityProvider } from '../fixtures/identity-provider.js';
import { createRepositoryDir, publishVersion, removeRepository } from '../fixtures/model-repository.js';
import { need } from '../support/external.js';
import { expectOk, expectStatus, grpcClients, startGrpc, unaryCall, type GrpcClients, type RunningGrpc } from '../support/grpc.js';
import { startRepositoryService, type RepositoryService } from '../support/service.js';
import { verifierFor } from '../support/verifier.js';

interface Index {
  models: { name: string; version: string; state: string; reason: string }[];
}

describe('gRPC repository RPCs on a model repository', function () {
  this.timeout(60_000);
  let idp: IdentityProvider;
  let root: string;
  let svc: RepositoryService;
  let grpc: RunningGrpc;
  let clients: GrpcClients;
  let operator: string;

  before(async function () {
    const conformance = need(this, 'conformance');
    idp = await startIdentityProvider();
    root = await createRepositoryDir();
    await publishVersion(root, 'catdog', '1');
    await publishVersion(root, 'catdog', '2');
    svc = await startRepositoryService(root, { verifier: verifierFor(idp) });
    grpc = await startGrpc(svc.app);
    clients = grpcClients(conformance, grpc.address);
    operator = await idp.token('operator-client', { scope: manageScope });
  });
  after(async () => {
    clients?.close();
    await grpc?.close();
    await svc?.close();
    await idp?.close();
    if (root) await removeRepository(root);
  });

  const index = async (ready = false): Promise<Index['models']> =>
    expectOk(await unaryCall<Index>(clients.triton, 'RepositoryIndex', { ready }, { token: operator })).models;

  it('RepositoryIndex: every version with its state (the newest and the one before it loaded), or the READY ones', async () => {
    expect((await index()).map((m) => [m.name, m.version, m.state])).to.deep.equal([['catdog', '1', 'READY'], ['catdog', '2', 'READY']]);
    expect((await index(true)).map((m) => m.version)).to.deep.equal(['1', '2']);
    expect(expectOk(await unaryCall<{ versions: string[] }>(clients.oip, 'ModelMetadata', { name: 'catdog' })).versions).to.deep.equal(['2', '1']);
  });

  it('RepositoryModelUnload of version 2 (version 1 loads to replace it), then RepositoryModelLoad of it (an int64 parameter): what serves follows', async () => {
    expectOk(await unaryCall(clients.triton, 'RepositoryModelUnload', { model_name: 'catdog', parameters: { version: { string_param: '2' } } }, { token: operator }));
    expect((await index(true)).map((m) => m.version)).to.deep.equal(['1']);
    expect(expectOk(await unaryCall(clients.oip, 'ModelReady', { name: 'catdog', version: '2' }))).to.deep.equal({ ready: false });
    expectOk(await unaryCall(clients.triton, 'RepositoryModelLoad', { model_name: 'catdog', parameters: { version: { int64_param: 2 } } }, { token: operator }));
    expect(expectOk(await unaryCall(clients.oip, 'ModelReady', { name: 'catdog', version: '2' }))).to.deep.equal({ ready: true });
    expect(expectOk(await unaryCall(clients.health, 'Check', { service: 'catdog' }))).to.deep.equal({ status: 'SERVING' });
  });

  it('refusals: an unknown model NOT_FOUND, a version that is not a number INVALID_ARGUMENT, a prediction token PERMISSION_DENIED', async () => {
    expectStatus(await unaryCall(clients.triton, 'RepositoryModelLoad', { model_name: 'cats' }, { token: operator }), status.NOT_FOUND, 'model-not-found');
    expectStatus(await unaryCall(clients.triton, 'RepositoryModelLoad', { model_name: 'catdog', parameters: { version: { string_param: 'latest' } } }, { token: operator }), status.INVALID_ARGUMENT, 'validation-failed');
    expectStatus(await unaryCall(clients.triton, 'RepositoryModelUnload', { model_name: 'catdog' }, { token: await idp.token() }), status.PERMISSION_DENIED, 'insufficient-scope');
  });
});
