/**
 * OpenTelemetry traces of the real process (issue 26, item 5): with an OTLP endpoint set, a
 * request carrying a W3C `traceparent` (REST header or gRPC metadata) is continued: its server
 * span and the stages' spans (token check, body read, queue wait, decode, inference, encode)
 * reach an OTLP/HTTP receiver run by the test, in JSON or protobuf, with the model and version
 * that answered; the spans still buffered are exported at shutdown. Off (the default, or
 * OTEL_SDK_DISABLED / OTEL_TRACES_EXPORTER=none), nothing is sent and the log carries no trace id.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import { expect } from 'chai';
import { catImagePath } from '../fixtures/course-images.js';
import { startIdentityProvider, type IdentityProvider } from '../fixtures/identity-provider.js';
import { need } from '../support/external.js';
import { expectOk, grpcClients, unaryCall } from '../support/grpc.js';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../support/otlp-receiver.js';
import { spawnService, type SpawnedService } from '../support/process.js';
import { waitFor } from '../support/wait.js';

/** The stages' spans every classification has, besides the server span. */
const STAGES = ['token check', 'body read', 'queue wait', 'decode', 'inference', 'encode'] as const;

/** A port nothing listens on now. */
function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** A sampled W3C traceparent with fresh ids. */
function traceparent(): { header: string; traceId: string; parentId: string } {
  const traceId = randomBytes(16).toString('hex');
  const parentId = randomBytes(8).toString('hex');
  return { header: `00-${traceId}-${parentId}-01`, traceId, parentId };
}

/** Uploads `image` with a bearer token and extra headers. */
async function uploadWith(url: string, image: Buffer, headers: Record<string, string>): Promise<{ status: number; body: Record<string, unknown> }> {
  const form = new FormData();
  form.append('file', new Blob([image]), 'cat.png');
  const res = await fetch(`${url}/upload`, { method: 'POST', body: form, headers });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** The span of `spans` named `name`, asserted to be there once. */
function one(spans: readonly ReceivedSpan[], name: string): ReceivedSpan {
  const found = spans.filter((s) => s.name === name);
  expect(found, `one span "${name}" in ${JSON.stringify(spans.map((s) => s.name))}`).to.have.length(1);
  return found[0]!;
}

/** Asserts the stages of one classification under `server`, each in its trace, with the version's attributes where it concerns the model. */
function expectStages(spans: readonly ReceivedSpan[], server: ReceivedSpan): void {
  // One token check per security scheme the operation accepts (/upload: oauth2 and bearerAuth).
  const checks = spans.filter((s) => s.name === 'token check');
  expect(checks.length, 'token checks').to.be.at.least(1);
  for (const check of checks) {
    expect(check.parentSpanId, 'a token check\'s parent').to.equal(server.spanId);
    expect(check.attributes['auth.scheme']).to.be.a('string');
  }
  for (const name of STAGES.filter((n) => n !== 'token check')) {
    const stage = one(spans, name);
    expect(stage.traceId, name).to.equal(server.traceId);
    expect(stage.kind, `${name} is internal`).to.equal(1);
    expect(stage.startNs >= server.startNs && stage.endNs <= server.endNs, `${name} within the server span`).to.equal(true);
    if (name !== 'body read') {
      expect(stage.attributes, name).to.include({ 'model.name': 'catdog', 'model.version': '1' });
    }
  }
  // Body read hangs under the server span; queue wait, decode and inference too
  // (recorded after the fact from the gate's and the classifier's timings).
  for (const name of ['body read', 'queue wait', 'decode', 'inference']) {
    expect(one(spans, name).parentSpanId, `${name}'s parent`).to.equal(server.spanId);
  }
  const ordered = ['queue wait', 'decode', 'inference'].map((name) => one(spans, name));
  expect(ordered[0]!.endNs <= ordered[1]!.startNs + 1_000_000n && ordered[1]!.endNs <= ordered[2]!.startNs + 1_000_000n, 'queue wait, then decode, then inference').to.equal(true);
}

describe('OpenTelemetry traces of the process (issue 26)', function () {
  this.timeout(180_000);
  let idp: IdentityProvider;
  let receiver: OtlpReceiver;
  let svc: SpawnedService | undefined;
  let cat: Buffer;

  before(async () => {
    idp = await startIdentityProvider();
    cat = await readFile(catImagePath);
  });
  after(() => idp.close());
  beforeEach(async () => {
    receiver = await startOtlpReceiver();
  });
  afterEach(async () => {
    await svc?.stop();
    svc = undefined;
    await receiver.close();
  });

  const auth = (): Record<string, string> => ({ AUTH_DISABLED: 'false', OAUTH2_ISSUER: idp.issuer, OAUTH2_AUDIENCE: idp.audience });

  it('http/json: an upload and a gRPC ModelInfer with traceparent continue their traces, with every stage and the version; flushed at shutdown', async function () {
    const conformance = need(this, 'conformance');
    svc = await spawnService({
      ...auth(),
      GRPC_PORT: String(await freePort()),
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_SERVICE_NAME: 'traced-classifier',
    });
    const token = await idp.token();
    const rest = traceparent();
    const answered = await uploadWith(svc.url, cat, { authorization: `Bearer ${token}`, traceparent: rest.header });
    expect(answered.status).to.equal(200);
    expect(answered.body.prediction).to.equal('Cat');

    const grpc = traceparent();
    const clients = grpcClients(conformance, svc.grpcAddress!);
    try {
      const response = expectOk(await unaryCall<{ outputs: { contents: { bytes_contents: Buffer[] } }[] }>(clients.oip, 'ModelInfer', {
        model_name: 'catdog', inputs: [{ name: 'image', datatype: 'BYTES', shape: [1], contents: { bytes_contents: [cat] } }], outputs: [{ name: 'label' }],
      }, { token, metadata: { traceparent: grpc.header } }));
      expect(response.outputs[0]!.contents.bytes_contents.map(String)).to.deep.equal(['Cat']);
    } finally {
      clients.close();
    }
    // The request log line carries the trace id (the child's stdout may come after the answer).
    const running = svc;
    await waitFor(() => new RegExp(`"operation":"classifyImage"[^\\n]*"traceId":"${rest.traceId}"`).test(running.output()), 'the upload\'s log line with its trace id');
    await waitFor(() => new RegExp(`"operation":"ModelInfer"[^\\n]*"traceId":"${grpc.traceId}"`).test(running.output()), 'the call\'s log line with its trace id');

    // SIGTERM: the spans still buffered (the batch processor waits 5 s) are exported before exit.
    expect(await svc.stop()).to.equal(0);
    svc = undefined;
    expect(receiver.requests.length).to.be.above(0);
    expect(receiver.requests.every((r) => r.path === '/v1/traces' && r.contentType.startsWith('application/json'))).to.equal(true);

    const restSpans = receiver.spans.filter((s) => s.traceId === rest.traceId);
    const server = one(restSpans, 'POST /upload');
    expect(server.kind, 'a server span').to.equal(2);
    expect(server.parentSpanId, 'continues the incoming traceparent').to.equal(rest.parentId);
    expect(server.resource).to.include({ 'service.name': 'traced-classifier' });
    expect(server.attributes).to.include({
      'http.request.method': 'POST',
      'http.route': '/upload',
      'url.path': '/upload',
      'http.response.status_code': 200,
      'model.name': 'catdog',
      'model.version': '1',
    });
    expect(server.attributes['inference.id']).to.equal(answered.body.id);
    expectStages(restSpans, server);

    const grpcSpans = receiver.spans.filter((s) => s.traceId === grpc.traceId);
    const call = one(grpcSpans, 'inference.GRPCInferenceService/ModelInfer');
    expect(call.kind).to.equal(2);
    expect(call.parentSpanId).to.equal(grpc.parentId);
    expect(call.attributes).to.include({ 'rpc.system': 'grpc', 'rpc.method': 'ModelInfer', 'rpc.grpc.status_code': 0, 'model.name': 'catdog', 'model.version': '1' });
    // gRPC has received the message whole before the handler: no body read.
    for (const name of STAGES.filter((s) => s !== 'body read')) expect(grpcSpans.filter((s) => s.name === name), name).to.have.length(1);
    expect(grpcSpans.map((s) => s.name)).not.to.include('body read');
  });

  it('http/protobuf: a request without traceparent starts its own trace, in the request log and at the receiver', async () => {
    svc = await spawnService({
      ...auth(),
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${receiver.url}/v1/traces`,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
    });
    const answered = await uploadWith(svc.url, cat, { authorization: `Bearer ${await idp.token()}` });
    expect(answered.status).to.equal(200);
    const running = svc;
    await waitFor(() => running.output().includes(`"inferenceId":"${String(answered.body.id)}"`), 'the upload\'s log line');
    const logged = new RegExp(`"operation":"classifyImage"[^\\n]*"inferenceId":"${String(answered.body.id)}"[^\\n]*"traceId":"([0-9a-f]{32})"`).exec(svc.output());
    expect(logged, `the trace id in the request log:\n${svc.output().split('\n').filter((l) => l.includes('classifyImage')).join('\n')}`).to.not.equal(null);
    expect(await svc.stop()).to.equal(0);
    svc = undefined;
    expect(receiver.requests.every((r) => r.contentType.startsWith('application/x-protobuf'))).to.equal(true);
    const spans = receiver.spans.filter((s) => s.traceId === logged![1]);
    const server = one(spans, 'POST /upload');
    expect(server.parentSpanId, 'a root span').to.equal('');
    expect(server.resource).to.include({ 'service.name': 'catdog-classifier' });
    expectStages(spans, server);
  });

  for (const [label, env] of [
    ['the default (no OTEL_* endpoint)', {}],
    ['OTEL_SDK_DISABLED=true beside an endpoint', { OTEL_SDK_DISABLED: 'true', ENDPOINT: '' }],
    ['OTEL_TRACES_EXPORTER=none beside an endpoint', { OTEL_TRACES_EXPORTER: 'none', ENDPOINT: '' }],
  ] as const) {
    it(`off with ${label}: nothing is sent, no trace id is logged, the answer is the same`, async () => {
      const { ENDPOINT, ...rest } = env as Record<string, string>;
      svc = await spawnService({ ...auth(), ...rest, ...(ENDPOINT === undefined ? {} : { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url }) });
      const parent = traceparent();
      const answered = await uploadWith(svc.url, cat, { authorization: `Bearer ${await idp.token()}`, traceparent: parent.header });
      expect(answered.status).to.equal(200);
      expect(answered.body.prediction).to.equal('Cat');
      const running = svc;
      await waitFor(() => running.output().includes('"operation":"classifyImage"'), 'the upload\'s log line');
      expect(await svc.stop()).to.equal(0);
      const output = svc.output();
      svc = undefined;
      expect(output).to.match(/"operation":"classifyImage"/);
      expect(output).not.to.match(/"traceId"/);
      expect(output).to.match(/"tracing":\{"enabled":false\}/);
      expect(receiver.requests, 'export requests').to.deep.equal([]);
    });
  }
});
