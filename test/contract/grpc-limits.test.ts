/**
 * gRPC under pressure, in-process: a deadline is honoured and the work it queued leaves the
 * queue; a cancelled call's too; a full gate answers RESOURCE_EXHAUSTED with retry information;
 * the health Watch hears readiness change; the server drains calls in progress.
 */
import type { Duplex } from 'node:stream';
import { status, type ClientUnaryCall } from '@grpc/grpc-js';
import { expect } from 'chai';
import { createReadiness } from '../../src/lifecycle/readiness.js';
import { solidImage } from '../fixtures/images.js';
import { buildImagenetLikeModel, imagenetLikeManifest } from '../fixtures/onnx-models.js';
import { need } from '../support/external.js';
import { expectOk, expectStatus, grpcClients, metadataOf, startGrpc, unaryCall, type GrpcClients, type RunningGrpc } from '../support/grpc.js';
import { startService, type RunningService } from '../support/service.js';
import { waitFor } from '../support/wait.js';

describe('gRPC deadlines, cancellation, overload, health watch and drain', function () {
  this.timeout(60_000);
  const readiness = createReadiness('ready');
  let svc: RunningService;
  let grpc: RunningGrpc;
  let clients: GrpcClients;
  let request: object;
  /** Classifications wait for this to be resolved (a held model). */
  let release: () => void = () => {};
  let held: Promise<void> = Promise.resolve();
  const hold = (): void => {
    held = new Promise((resolve) => (release = resolve));
  };

  before(async function () {
    const conformance = need(this, 'conformance');
    svc = await startService({
      model: { bytes: buildImagenetLikeModel(), manifest: imagenetLikeManifest },
      admission: { maxInflight: 1, maxQueue: 1, retryAfterSeconds: 2 },
      beforeClassify: () => held,
      readiness,
    });
    grpc = await startGrpc(svc.app);
    clients = grpcClients(conformance, grpc.address);
    request = { model_name: 'catdog', inputs: [{ name: 'image', datatype: 'BYTES', shape: [1], contents: { bytes_contents: [await solidImage('red')] } }] };
  });
  afterEach(() => release());
  after(async () => {
    clients?.close();
    await grpc?.close();
    await svc?.close();
  });

  const gate = () => svc.app.core.admission;

  it('a deadline passes while the model is busy: DEADLINE_EXCEEDED at the deadline, the queued call leaves the queue, the next call served', async () => {
    hold();
    const running = unaryCall(clients.oip, 'ModelInfer', request);
    await waitFor(() => gate().inflight === 1, 'a classification running');
    const late = await unaryCall(clients.oip, 'ModelInfer', request, { deadlineMs: 300 });
    expectStatus(late, status.DEADLINE_EXCEEDED);
    expect(late.ms).to.be.below(2_000);
    await waitFor(() => gate().queued === 0, 'the queue empty');
    release();
    expectOk(await running);
    expectOk(await unaryCall(clients.oip, 'ModelInfer', request));
  });

  it('a call cancelled by its client leaves the queue', async () => {
    hold();
    const running = unaryCall(clients.oip, 'ModelInfer', request);
    await waitFor(() => gate().inflight === 1, 'a classification running');
    const call = (clients.oip.ModelInfer as (r: object, m: unknown, cb: (err: { code: number } | null) => void) => ClientUnaryCall)(
      request, metadataOf({}), () => {},
    );
    await waitFor(() => gate().queued === 1, 'a call queued');
    call.cancel();
    await waitFor(() => gate().queued === 0, 'the queue empty');
    release();
    expectOk(await running);
  });

  it('the gate full: RESOURCE_EXHAUSTED overloaded with retry-after at once', async () => {
    hold();
    const running = unaryCall(clients.oip, 'ModelInfer', request);
    await waitFor(() => gate().inflight === 1, 'a classification running');
    const queued = unaryCall(clients.oip, 'ModelInfer', request);
    await waitFor(() => gate().queued === 1, 'a call queued');
    const refused = expectStatus(await unaryCall(clients.oip, 'ModelInfer', request), status.RESOURCE_EXHAUSTED, 'overloaded');
    expect(refused.ms).to.be.below(2_000);
    expect(refused.trailers.get('retry-after')).to.deep.equal(['2']);
    expect(refused.trailers.get('grpc-status-details-bin')).to.have.length(1);
    release();
    expectOk(await running);
    expectOk(await queued);
  });

  it('Watch: SERVING, then NOT_SERVING once the service drains; then the drain ends the watch and waits for a call in progress', async () => {
    const watch = (clients.healthWatch.Watch as (r: object) => Duplex)({ service: '' });
    const seen: string[] = [];
    watch.on('data', (m: { status: string }) => seen.push(m.status));
    const ended = new Promise<void>((resolve) => {
      watch.on('end', resolve);
      watch.on('error', () => resolve());
    });
    await waitFor(() => seen.length === 1, 'the first status');
    expect(seen).to.deep.equal(['SERVING']);
    hold();
    const running = unaryCall(clients.oip, 'ModelInfer', request);
    await waitFor(() => gate().inflight === 1, 'a classification running');
    readiness.startDraining();
    await waitFor(() => seen.length === 2, 'the second status');
    expect(seen).to.deep.equal(['SERVING', 'NOT_SERVING']);
    expect(expectOk(await unaryCall(clients.oip, 'ServerReady', {}))).to.deep.equal({ ready: false });
    const drained = grpc.server.drain(10_000);
    await ended;
    release();
    expectOk(await running);
    expect(await drained, 'drained within the grace period').to.equal(true);
  });
});

describe('gRPC rate limits (issue 22, item 4, through the one core)', function () {
  this.timeout(60_000);
  let svc: RunningService;
  let grpc: RunningGrpc;
  let clients: GrpcClients;
  let request: object;

  before(async function () {
    const conformance = need(this, 'conformance');
    svc = await startService({
      model: { bytes: buildImagenetLikeModel(), manifest: imagenetLikeManifest },
      rateLimit: { imagesPerSecond: 0.2, burstImages: 3 },
    });
    grpc = await startGrpc(svc.app);
    clients = grpcClients(conformance, grpc.address);
    request = { model_name: 'catdog', inputs: [{ name: 'image', datatype: 'BYTES', shape: [1], contents: { bytes_contents: [await solidImage('red')] } }] };
  });
  after(async () => {
    clients?.close();
    await grpc?.close();
    await svc?.close();
  });

  it('a client that has used its images is answered RESOURCE_EXHAUSTED rate-limited with retry-after, as on REST, and its REST upload counts against the same limit (one client: one address)', async () => {
    for (let i = 0; i < 3; i += 1) expectOk(await unaryCall(clients.oip, 'ModelInfer', request));
    const refused = expectStatus(await unaryCall(clients.oip, 'ModelInfer', request), status.RESOURCE_EXHAUSTED, 'rate-limited');
    expect(Number(refused.trailers.get('retry-after')[0])).to.be.at.least(2);
    const upload = new FormData();
    upload.append('file', new Blob([await solidImage('red')], { type: 'image/png' }), 'red.png');
    const rest = await fetch(`${svc.url}/upload`, { method: 'POST', body: upload });
    expect(rest.status).to.equal(429);
    expect(((await rest.json()) as { code?: string }).code).to.equal('rate-limited');
  });
});
