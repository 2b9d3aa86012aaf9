/**
 * Payload events in the real process (issue 26, item 6): with PAYLOAD_LOGGER_URL, every
 * `/upload` and V2 inference reaches a CloudEvents receiver (a real HTTP server started here) as
 * two binary-mode events with KServe's types and extensions, under the answer's inference id.
 * A receiver that holds every event, or one that is down, loses events, counted in
 * `catdog_payload_events_total`, and never an answer: the uploads are answered while the
 * receiver has not answered a single event.
 */
import http from 'node:http';
import type net from 'node:net';
import { rm } from 'node:fs/promises';
import { expect } from 'chai';
import sharp from 'sharp';
import { uploadForm } from '../fixtures/images.js';
import { buildCourseVggLikeModel, courseVggLikeManifest } from '../fixtures/onnx-models.js';
import { receive } from '../support/contract.js';
import { need } from '../support/external.js';
import { expectOk, grpcClients, unaryCall } from '../support/grpc.js';
import { spawnService, type SpawnedService } from '../support/process.js';
import { writeFixtureModel } from '../support/service.js';
import { base64Request, bytesTensor, imagesHeader, postBinary, postJson } from '../support/v2.js';
import { waitFor } from '../support/wait.js';

/** Start-up on a machine shared with other test runs: tsx compiles src/ first (40 s seen under load). */
const STARTUP_MS = 150_000;

/** An event as the receiver got it. */
interface Received {
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
}

/** A CloudEvents receiver on loopback: `take` answers 202, `hold` never answers. */
async function startReceiver(behaviour: 'take' | 'hold'): Promise<{ url: string; events: Received[]; close(): Promise<void> }> {
  const events: Received[] = [];
  const held: http.ServerResponse[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      events.push({ headers: req.headers, body: Buffer.concat(chunks) });
      if (behaviour === 'take') res.writeHead(202).end();
      else held.push(res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/events`,
    events,
    close: () => new Promise<void>((resolve) => {
      for (const res of held) res.destroy();
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** `catdog_payload_events_total{type, outcome}`, summed over the types when `type` is left out. */
async function events(url: string, outcome: string, type?: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return text.split('\n')
    .filter((l) => l.startsWith('catdog_payload_events_total{') && l.includes(`outcome="${outcome}"`) && (type === undefined || l.includes(`type="${type}"`)))
    .reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
}

const colourImage = (r: number, g: number, b: number): Promise<Buffer> =>
  sharp({ create: { width: 48, height: 48, channels: 3, background: { r, g, b } } }).png().toBuffer();

async function upload(url: string, image: Uint8Array): Promise<{ id: string } & Record<string, unknown>> {
  const res = await receive(`${url}/upload`, { method: 'POST', body: uploadForm(image) });
  expect(res.status, res.text).to.equal(200);
  return res.body as { id: string };
}

describe('payload events of the process (issue 26)', function () {
  this.timeout(240_000);
  let model: { manifestPath: string; dir: string };
  let svc: SpawnedService | undefined;
  let receiver: Awaited<ReturnType<typeof startReceiver>> | undefined;
  before(async () => {
    model = await writeFixtureModel({ bytes: buildCourseVggLikeModel(), manifest: courseVggLikeManifest });
  });
  afterEach(async () => {
    if (svc) expect(await svc.stop(), svc.output().slice(-2000)).to.equal(0);
    svc = undefined;
    await receiver?.close();
    receiver = undefined;
  });
  after(() => rm(model.dir, { recursive: true, force: true }));

  it('sends each /upload and V2 request and answer as KServe CloudEvents in binary mode, under the answer\'s id', async () => {
    receiver = await startReceiver('take');
    svc = await spawnService({
      MODEL_MANIFEST: model.manifestPath,
      PAYLOAD_LOGGER_URL: receiver.url,
      PAYLOAD_LOGGER_NAMESPACE: 'models',
      PAYLOAD_LOGGER_INFERENCE_SERVICE: 'catdog-isvc',
      PAYLOAD_LOGGER_SOURCE: 'urn:test:replica-1',
    }, STARTUP_MS);
    const got = receiver.events;
    const of = (id: string, type: 'request' | 'response'): Received | undefined =>
      got.find((e) => e.headers['ce-id'] === id && e.headers['ce-type'] === `org.kubeflow.serving.inference.${type}`);
    const exchange = async (id: string): Promise<[Received, Received]> => {
      await waitFor(() => of(id, 'request') !== undefined && of(id, 'response') !== undefined, `both events of ${id}`);
      return [of(id, 'request')!, of(id, 'response')!];
    };
    const expectKServeHeaders = (event: Received, startedAt: number): void => {
      expect(event.headers['ce-specversion']).to.equal('1.0');
      expect(event.headers['ce-source']).to.equal('urn:test:replica-1');
      expect(event.headers['ce-inferenceservicename']).to.equal('catdog-isvc');
      expect(event.headers['ce-namespace']).to.equal('models');
      expect(event.headers['ce-component']).to.equal('predictor');
      expect(event.headers['ce-endpoint']).to.equal('default');
      expect(event.headers['ce-modelname']).to.equal('catdog');
      expect(event.headers['ce-modelversion']).to.equal('1');
      expect(JSON.parse(event.headers['ce-metadata'] as string)).to.have.property('X-Request-Id');
      const time = Date.parse(event.headers['ce-time'] as string);
      expect(time).to.be.within(startedAt - 1000, Date.now());
    };
    const startedAt = Date.now();

    // /upload: the image with its media type, then the answer's JSON.
    const image = await colourImage(200, 30, 30);
    const answer = await upload(svc.url, image);
    const [request, response] = await exchange(answer.id);
    expectKServeHeaders(request, startedAt);
    expectKServeHeaders(response, startedAt);
    expect(request.headers['content-type']).to.equal('image/png');
    expect(request.body.equals(image), 'the uploaded bytes').to.equal(true);
    expect(response.headers['content-type']).to.equal('application/json');
    expect(JSON.parse(response.body.toString())).to.deep.equal(answer);

    // V2 JSON: the request's JSON, the answer's JSON.
    const v2Request = base64Request([await colourImage(30, 200, 30)], { id: 'payload-json-1' });
    const v2 = await postJson(`${svc.url}/v2/models/catdog/infer`, v2Request);
    expect(v2.status, v2.text).to.equal(200);
    const v2Id = v2.headers.get('x-inference-id')!;
    expect(v2Id).to.equal('payload-json-1');
    const [v2Req, v2Res] = await exchange(v2Id);
    expectKServeHeaders(v2Req, startedAt);
    expect(v2Req.headers['content-type']).to.equal('application/json');
    expect(JSON.parse(v2Req.body.toString())).to.deep.equal(v2Request);
    expect(JSON.parse(v2Res.body.toString())).to.deep.equal(v2.body);

    // V2 with the binary data extension: the JSON header then the tensor's bytes, the header's length in an extension.
    const tensor = bytesTensor([await colourImage(30, 30, 200)]);
    const binary = await postBinary(`${svc.url}/v2/models/catdog/infer`, imagesHeader([await colourImage(30, 30, 200)]), [tensor]);
    expect(binary.status, binary.text).to.equal(200);
    const [binReq, binRes] = await exchange(binary.headers.get('x-inference-id')!);
    expect(binReq.headers['content-type']).to.equal('application/octet-stream');
    const headerLength = Number(binReq.headers['ce-inferenceheadercontentlength']);
    expect(JSON.parse(binReq.body.subarray(0, headerLength).toString())).to.have.nested.property('inputs[0].name', 'image');
    expect(binReq.body.subarray(headerLength).equals(tensor), 'the binary tensor').to.equal(true);
    expect(JSON.parse(binRes.body.toString())).to.have.property('model_name', 'catdog');

    expect(got.filter((e) => e.headers['ce-type'] === 'org.kubeflow.serving.inference.request')).to.have.length(3);
    await waitFor(async () => (await events(svc!.url, 'sent')) === 6, 'six events counted sent');
    expect(await events(svc.url, 'sent', 'request')).to.equal(3);
  });

  it('sends a gRPC ModelInfer as JSON of the request and of the response, images in base64', async function () {
    const conformance = need(this, 'conformance');
    receiver = await startReceiver('take');
    svc = await spawnService({ MODEL_MANIFEST: model.manifestPath, PAYLOAD_LOGGER_URL: receiver.url, GRPC_PORT: String(await closedPort()) }, STARTUP_MS);
    const clients = grpcClients(conformance, svc.grpcAddress!);
    try {
      const image = await colourImage(120, 60, 200);
      const answer = expectOk(await unaryCall<{ id: string; model_name: string }>(clients.oip, 'ModelInfer', {
        model_name: 'catdog', id: 'payload-grpc-1', inputs: [{ name: 'image', datatype: 'BYTES', shape: [1], contents: { bytes_contents: [image] } }], outputs: [{ name: 'label' }],
      }));
      expect(answer.id).to.equal('payload-grpc-1');
      await waitFor(() => receiver!.events.length === 2, 'both events');
      const [request, response] = ['request', 'response'].map((t) => receiver!.events.find((e) => e.headers['ce-type'] === `org.kubeflow.serving.inference.${t}`)!);
      expect(request!.headers).to.include({ 'ce-id': 'payload-grpc-1', 'content-type': 'application/json', 'ce-modelname': 'catdog' });
      const sent = JSON.parse(request!.body.toString()) as { model_name: string; inputs: { contents: { bytes_contents: string[] } }[] };
      expect(sent.model_name).to.equal('catdog');
      expect(Buffer.from(sent.inputs[0]!.contents.bytes_contents[0]!, 'base64').equals(image), 'the image in base64').to.equal(true);
      expect(response!.headers['ce-id']).to.equal('payload-grpc-1');
      expect(JSON.parse(response!.body.toString())).to.include({ model_name: 'catdog', model_version: '1', id: 'payload-grpc-1' });
    } finally {
      clients.close();
    }
  });

  it('PAYLOAD_LOGGER_MODE=response sends the answers only', async () => {
    receiver = await startReceiver('take');
    svc = await spawnService({ MODEL_MANIFEST: model.manifestPath, PAYLOAD_LOGGER_URL: receiver.url, PAYLOAD_LOGGER_MODE: 'response' }, STARTUP_MS);
    const answers = [await upload(svc.url, await colourImage(10, 20, 30)), await upload(svc.url, await colourImage(30, 20, 10))];
    await waitFor(() => receiver!.events.length === 2, 'two events');
    expect(receiver.events.map((e) => e.headers['ce-type'])).to.deep.equal(Array(2).fill('org.kubeflow.serving.inference.response'));
    expect(receiver.events.map((e) => e.headers['ce-id']).sort()).to.deep.equal(answers.map((a) => a.id).sort());
  });

  it('a receiver that never answers: every upload is answered, the events beyond the queue are dropped and counted', async () => {
    receiver = await startReceiver('hold');
    svc = await spawnService({
      MODEL_MANIFEST: model.manifestPath,
      PAYLOAD_LOGGER_URL: receiver.url,
      PAYLOAD_LOGGER_CONCURRENCY: '1',
      PAYLOAD_LOGGER_QUEUE_EVENTS: '2',
      PAYLOAD_LOGGER_TIMEOUT_MS: '600000',
    }, STARTUP_MS);
    // Six uploads, twelve events: one is held by the receiver, two wait, the rest are dropped.
    for (let i = 0; i < 6; i++) await upload(svc.url, await colourImage(40 * i, 100, 100));
    await waitFor(() => receiver!.events.length === 1, 'the first event held by the receiver');
    // Not one event was answered, yet every upload was: no answer waited for its events.
    expect(await events(svc.url, 'sent')).to.equal(0);
    expect(await events(svc.url, 'dropped-queue-full')).to.be.at.least(12 - 3);
    // The gRPC and V2 paths share the sink: a V2 answer too.
    const v2 = await postJson(`${svc.url}/v2/models/catdog/infer`, base64Request([await colourImage(1, 2, 3)]));
    expect(v2.status, v2.text).to.equal(200);
    expect(await events(svc.url, 'dropped-queue-full')).to.be.at.least(12 - 3 + 2);
  });

  it('a receiver that is down: the answers come, each event is retried, then dropped and counted', async () => {
    svc = await spawnService({
      MODEL_MANIFEST: model.manifestPath,
      PAYLOAD_LOGGER_URL: `http://127.0.0.1:${await closedPort()}/events`,
      PAYLOAD_LOGGER_RETRIES: '2',
      PAYLOAD_LOGGER_BACKOFF_MS: '10',
    }, STARTUP_MS);
    for (let i = 0; i < 3; i++) await upload(svc.url, await colourImage(10, 40 * i, 10));
    await waitFor(async () => (await events(svc!.url, 'dropped-undeliverable')) === 6, 'six events dropped as undeliverable');
    expect(await events(svc.url, 'sent')).to.equal(0);
    await waitFor(() => /payload event dropped/.test(svc!.output()), 'the log line of a dropped event');
  });
});
