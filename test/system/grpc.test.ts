/**
 * The gRPC server of the real process (`src/main.ts`): started with the HTTP server on
 * GRPC_PORT, ready with it (grpc.health.v1 as a Kubernetes probe calls it), serving the real
 * model; on SIGTERM both drain together: a call in progress is answered, then the process exits 0.
 * A GRPC_PORT in use stops start-up with one line.
 */
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import { expect } from 'chai';
import { catImagePath } from '../fixtures/course-images.js';
import { need } from '../support/external.js';
import { expectOk, grpcClients, unaryCall, type GrpcClients } from '../support/grpc.js';
import { spawnService, type SpawnedService } from '../support/process.js';
import { waitFor } from '../support/wait.js';

/** A port nothing listens on now. */
function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** The value of an unlabelled metric sample. */
async function gauge(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return Number(line?.split(' ')[1] ?? NaN);
}

describe('the gRPC server of the process', function () {
  this.timeout(180_000);
  let svc: SpawnedService | undefined;
  let clients: GrpcClients | undefined;
  afterEach(async () => {
    clients?.close();
    await svc?.stop();
  });

  it('listens on GRPC_PORT, is SERVING once ready, classifies cat.png, and drains with HTTP on SIGTERM: the call in progress answered, exit 0', async function () {
    const conformance = need(this, 'conformance');
    svc = await spawnService({ GRPC_PORT: String(await freePort()), METRICS_PUBLIC: 'true', SHUTDOWN_GRACE_MS: '30000' });
    expect(svc.grpcAddress).to.be.a('string');
    clients = grpcClients(conformance, svc.grpcAddress!);
    expect(expectOk(await unaryCall(clients.health, 'Check', { service: '' }))).to.deep.equal({ status: 'SERVING' });
    expect(expectOk(await unaryCall(clients.health, 'Check', { service: 'catdog' }))).to.deep.equal({ status: 'SERVING' });
    const cat = await readFile(catImagePath);
    const one = expectOk(await unaryCall<{ outputs: { contents: { bytes_contents: Buffer[] } }[] }>(clients.oip, 'ModelInfer', {
      model_name: 'catdog', inputs: [{ name: 'image', datatype: 'BYTES', shape: [1], contents: { bytes_contents: [cat] } }], outputs: [{ name: 'label' }],
    }));
    expect(one.outputs[0]!.contents.bytes_contents.map(String)).to.deep.equal(['Cat']);
    // The access log line reaches this process through a pipe, possibly after the answer.
    const logged = /"protocol":"grpc","operation":"ModelInfer","status":"OK"[^\n]*"model":"catdog","modelVersion":"1","prediction":"Cat"/;
    await waitFor(() => logged.test(svc!.output()), `the call's access log line, ${logged}`);

    // A batch long enough to be in progress when SIGTERM arrives.
    const batch = Array<Buffer>(48).fill(cat);
    const inProgress = unaryCall(clients.oip, 'ModelInfer', {
      model_name: 'catdog', inputs: [{ name: 'image', datatype: 'BYTES', shape: [batch.length], contents: { bytes_contents: batch } }], outputs: [{ name: 'label' }],
    });
    const url = svc.url;
    await waitFor(async () => (await gauge(url, 'catdog_classifications_inflight')) > 0, 'the batch in progress');
    const exited = svc.stop();
    const answered = await inProgress;
    expect(answered.ok, answered.ok ? '' : `${answered.code} ${answered.details}\n${svc.output().split('\n').filter((l) => !l.includes('/metrics')).slice(-40).join('\n')}`).to.equal(true);
    expect(await exited).to.equal(0);
    expect(svc.output()).to.match(/"msg":"stopped"/);
    svc = undefined;
  });

  it('a GRPC_PORT in use stops start-up with one line naming it', async () => {
    const busy = net.createServer();
    const port = await new Promise<number>((resolve) => busy.listen(0, '127.0.0.1', () => resolve((busy.address() as net.AddressInfo).port)));
    try {
      const started = spawnService({ GRPC_PORT: String(port) });
      const error = await started.then(() => undefined, (err: Error) => err);
      expect(error?.message).to.match(/exited with 1 before ready/).and.match(/cannot start: listen EADDRINUSE[^\n]*:\d+/);
    } finally {
      busy.close();
    }
  });
});
