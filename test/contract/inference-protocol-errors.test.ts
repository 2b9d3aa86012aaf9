/**
 * Issue 14's bad inputs to `POST /v2/models/{name}/infer`: each one is answered with a 4xx
 * quickly (within a generous bound, as the issue asks), never a 5xx, with the protocol's
 * `{"error": ...}` beside the problem's code, valid against our spec and the published standard,
 * and the next request still works. On a small fixture model (a solid red PNG is a Cat).
 */
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import { expect } from 'chai';
import { createReadiness } from '../../src/lifecycle/readiness.js';
import { catImagePath } from '../fixtures/course-images.js';
import { buildImagenetLikeModel, imagenetLikeManifest } from '../fixtures/onnx-models.js';
import { solidImage } from '../fixtures/images.js';
import { expectMatchesSpec } from '../support/contract.js';
import { expectMatchesStandard, needConformance } from '../support/oip.js';
import { rawExchange, requestHead } from '../support/raw-http.js';
import { startService, type RunningService } from '../support/service.js';
import { waitFor } from '../support/wait.js';
import { base64Request, bytesTensor, imagesHeader, output, postBinary, postJson, receiveV2, type ReceivedV2 } from '../support/v2.js';

/** The issue asks for "quickly": a bound no loaded machine comes near for these refusals. */
const QUICKLY_MS = 5_000;
const MAX_BATCH_IMAGES = 4;

describe('Open Inference Protocol (V2): bad inputs', function () {
  this.timeout(60_000);
  let svc: RunningService;
  let red: Buffer;
  const infer = (): string => `${svc.url}/v2/models/catdog/infer`;

  before(async () => {
    svc = await startService({
      model: { bytes: buildImagenetLikeModel(), manifest: imagenetLikeManifest },
      requests: { maxInferBodyBytes: 1024 * 1024, maxBatchImages: MAX_BATCH_IMAGES, inferBodyMemoryBytes: 64 * 1024 * 1024 },
    });
    red = await solidImage('red');
  });
  after(() => svc?.close());

  /** Asserts the refusal, then that a good request is still answered. */
  async function expectRefused(context: Mocha.Context, res: ReceivedV2, status: number, code: string, operationId = 'inferModel'): Promise<void> {
    expect(res.status, res.text).to.equal(status);
    expect(res.ms, 'answered quickly').to.be.below(QUICKLY_MS);
    expect(res.headers.get('content-type')).to.match(/^application\/json/);
    const body = res.body as { code: string; error: string; detail?: string };
    expect(body.code).to.equal(code);
    expect(body.error).to.be.a('string').and.equal(body.detail ?? (body as unknown as { title: string }).title);
    expectMatchesSpec(svc.api, operationId, res);
    const next = await postJson(infer(), base64Request([red]));
    expect(next.status, `the next request: ${next.text}`).to.equal(200);
    expect(output(next, 'label').data).to.deep.equal(['Cat']);
    needConformance(context);
    expectMatchesStandard(operationId, res);
  }

  const image = (fields: Record<string, unknown>): Record<string, unknown> => ({ name: 'image', datatype: 'BYTES', shape: [1], data: [red.toString('base64')], ...fields });

  it('a body that is not JSON: 400 bad-request', async function () {
    const res = await receiveV2(infer(), { method: 'POST', headers: { 'content-type': 'application/json' }, body: 'hello' });
    await expectRefused(this, res, 400, 'bad-request');
    expect((res.body as { error: string }).error).to.match(/^The body is not valid JSON/);
  });

  it('no inputs: 400 validation-failed', async function () {
    await expectRefused(this, await postJson(infer(), { outputs: [{ name: 'label' }] }), 400, 'validation-failed');
  });

  it('an unknown input name: 400 unknown-tensor, naming the inputs', async function () {
    const res = await postJson(infer(), { inputs: [image({ name: 'images' })] });
    await expectRefused(this, res, 400, 'unknown-tensor');
    expect((res.body as { error: string }).error).to.equal('Model has no input "images"; its inputs are "image", "input"');
  });

  it('a wrong datatype: 400 tensor-invalid; a datatype the protocol does not have: 400 validation-failed', async function () {
    await expectRefused(this, await postJson(infer(), { inputs: [image({ datatype: 'FP32' })] }), 400, 'tensor-invalid');
    await expectRefused(this, await postJson(infer(), { inputs: [image({ datatype: 'STRING' })] }), 400, 'validation-failed');
  });

  it('shape and data count disagreeing: 400 tensor-invalid', async function () {
    const res = await postJson(infer(), { inputs: [image({ shape: [2] })] });
    await expectRefused(this, res, 400, 'tensor-invalid');
    expect((res.body as { error: string }).error).to.equal('Input "image" has shape [2] (2 elements), but 1 data elements');
  });

  it('a negative dimension: 400 validation-failed', async function () {
    await expectRefused(this, await postJson(infer(), { inputs: [image({ shape: [-1] })] }), 400, 'validation-failed');
  });

  it('a huge dimension ([1000000000]) is refused from the shape, before anything is allocated: 413 batch-too-large', async function () {
    const res = await postJson(infer(), { inputs: [image({ shape: [1_000_000_000] })] });
    await expectRefused(this, res, 413, 'batch-too-large');
    const tensor = await postJson(infer(), { inputs: [{ name: 'input', datatype: 'FP32', shape: [1_000_000_000, 3, 224, 224], data: [] }] });
    await expectRefused(this, tensor, 413, 'batch-too-large');
  });

  it('more images than MAX_BATCH_IMAGES: 413 batch-too-large, before any is decoded', async function () {
    const before = svc.classifications();
    const images = Array.from({ length: MAX_BATCH_IMAGES + 1 }, () => red);
    await expectRefused(this, await postBinary(infer(), imagesHeader(images), [bytesTensor(images)]), 413, 'batch-too-large');
    expect(svc.classifications() - before, 'classified: only the follow-up request').to.equal(1);
  });

  it('base64 of something that is not an image: 422 image-undecodable, naming the image; none of the batch is decoded', async function () {
    const before = svc.classifications();
    const request = { inputs: [{ name: 'image', datatype: 'BYTES', shape: [2], data: [red.toString('base64'), Buffer.from('not an image').toString('base64')] }] };
    const res = await postJson(infer(), request);
    await expectRefused(this, res, 422, 'image-undecodable');
    expect((res.body as { error: string }).error).to.match(/^Image 1: /);
    expect(svc.classifications() - before, 'classified: only the follow-up request').to.equal(1);
  });

  it('text that is not base64: 400 tensor-invalid', async function () {
    await expectRefused(this, await postJson(infer(), { inputs: [image({ data: ['this is not base64!'] })] }), 400, 'tensor-invalid');
  });

  it('an unknown output, or classification on the label: 400', async function () {
    await expectRefused(this, await postJson(infer(), { inputs: [image({})], outputs: [{ name: 'logits' }] }), 400, 'unknown-tensor');
    const k = { inputs: [image({})], outputs: [{ name: 'label', parameters: { classification: 1 } }] };
    await expectRefused(this, await postJson(infer(), k), 400, 'tensor-invalid');
  });

  it('Inference-Header-Content-Length not a number: 400 validation-failed', async function () {
    const res = await receiveV2(infer(), { method: 'POST', headers: { 'inference-header-content-length': 'ten' }, body: '{}' });
    await expectRefused(this, res, 400, 'validation-failed');
  });

  it('Inference-Header-Content-Length past the end of the body: 400 binary-data-invalid', async function () {
    const res = await receiveV2(infer(), { method: 'POST', headers: { 'inference-header-content-length': '500' }, body: '{"inputs":[]}' });
    await expectRefused(this, res, 400, 'binary-data-invalid');
  });

  it('a binary_data_size past the end: 400 binary-data-invalid', async function () {
    const header = { inputs: [{ name: 'image', datatype: 'BYTES', shape: [1], parameters: { binary_data_size: red.length + 100 } }] };
    await expectRefused(this, await postBinary(infer(), header, [bytesTensor([red])]), 400, 'binary-data-invalid');
  });

  it('a BYTES element whose 4-byte length runs past its tensor: 400 binary-data-invalid', async function () {
    const tensor = bytesTensor([red]);
    tensor.writeUInt32LE(0x7fffffff, 0);
    const res = await postBinary(infer(), imagesHeader([red]), [tensor]);
    await expectRefused(this, res, 400, 'binary-data-invalid');
    expect((res.body as { error: string }).error).to.match(/element 0 declares 2147483647 bytes/);
  });

  it('GET on infer: 405 with Allow: POST', async function () {
    const res = await receiveV2(infer(), {});
    await expectRefused(this, res, 405, 'method-not-allowed');
    expect(res.headers.get('allow')).to.equal('POST');
  });

  it('an unknown model or version: 404 model-not-found', async function () {
    await expectRefused(this, await postJson(`${svc.url}/v2/models/cats/infer`, base64Request([red])), 404, 'model-not-found');
    await expectRefused(this, await postJson(`${svc.url}/v2/models/catdog/versions/2/infer`, base64Request([red])), 404, 'model-not-found', 'inferModelVersion');
  });

  it('a form instead of JSON: 415 unsupported-media-type', async function () {
    const res = await receiveV2(infer(), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=1' });
    await expectRefused(this, res, 415, 'unsupported-media-type');
  });

  it('a body over MAX_INFER_BODY_BYTES is refused from its Content-Length, before it is sent, and the connection closed', async function () {
    // Over what the server would read to keep the connection (an upload's limit and envelope).
    const res = await rawExchange(infer(), {
      head: requestHead('POST', '/v2/models/catdog/infer', { 'Content-Type': 'application/json', 'Content-Length': 64 * 1024 * 1024 }),
    });
    expect(res.status, res.text).to.equal(413);
    expect(res.body).to.include({ code: 'payload-too-large' });
    expect((res.body as { error: string }).error).to.equal('The request body is larger than the limit of 1048576 bytes');
    expect(res.headers.get('connection')).to.equal('close');
    await expectRefused(this, { ...res, binary: {}, ms: res.elapsedMs }, 413, 'payload-too-large');
  });
});

describe('Open Inference Protocol (V2): a binary body cut short', function () {
  this.timeout(60_000);

  it('is read as far as it came (into place, as it arrives), answered 400 if the client still listens, and the service goes on', async () => {
    const svc = await startService({ model: { bytes: buildImagenetLikeModel(), manifest: imagenetLikeManifest } });
    try {
      const red = await solidImage('red');
      const header = Buffer.from(JSON.stringify(imagesHeader([red])));
      const body = Buffer.concat([header, bytesTensor([red])]);
      const head = requestHead('POST', '/v2/models/catdog/infer', {
        'Content-Type': 'application/octet-stream',
        'Inference-Header-Content-Length': header.length,
        'Content-Length': body.length,
      });
      // Half the body, then the client's side of the connection closed.
      const answer = await new Promise<string>((resolve) => {
        const { port } = new URL(svc.url);
        const socket = net.connect({ port: Number(port), host: '127.0.0.1' }, () => {
          socket.write(head);
          socket.end(body.subarray(0, Math.floor(body.length / 2)));
        });
        let text = '';
        socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
        socket.on('close', () => resolve(text));
        socket.on('error', () => undefined);
      });
      if (answer !== '') expect(answer).to.match(/^HTTP\/1\.1 400 /);
      const next = await postBinary(`${svc.url}/v2/models/catdog/infer`, imagesHeader([red]), [bytesTensor([red])]);
      expect(next.status, next.text).to.equal(200);
    } finally {
      await svc.close();
    }
  });
});

describe('Open Inference Protocol (V2): bounds and state', function () {
  this.timeout(60_000);

  it('a body that the memory budget cannot hold now: 503 overloaded with Retry-After, before it is read', async () => {
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    const svc = await startService({
      model: { bytes: buildImagenetLikeModel(), manifest: imagenetLikeManifest },
      // Room for one JSON body of cat.png in base64 (422 KB, 4 bytes per byte), not two.
      requests: { maxInferBodyBytes: 1024 * 1024, maxBatchImages: 64, inferBodyMemoryBytes: 2 * 1024 * 1024 },
      beforeClassify: () => held,
    });
    try {
      const images = [await readFile(catImagePath)];
      const first = postJson(`${svc.url}/v2/models/catdog/infer`, base64Request(images));
      // The first request holds its reservation while its images wait at the gate.
      await waitFor(async () => / [1-9]\d*$/m.test(await svc.app.metrics.registry.getSingleMetricAsString('catdog_classifications_inflight')), 'the first request at the gate');
      const second = await postJson(`${svc.url}/v2/models/catdog/infer`, base64Request(images));
      expect(second.status, second.text).to.equal(503);
      expect(second.body).to.include({ code: 'overloaded' });
      expect(second.headers.get('retry-after')).to.equal('1');
      expectMatchesSpec(svc.api, 'inferModel', second);
      release();
      expect((await first).status).to.equal(200);
      // Given back once answered.
      expect((await postJson(`${svc.url}/v2/models/catdog/infer`, base64Request(images))).status).to.equal(200);
    } finally {
      release();
      await svc.close();
    }
  });

  it('GET /v2/health/ready answers 503 not-ready while warming up, with the protocol\'s error', async function () {
    const svc = await startService({ model: { bytes: buildImagenetLikeModel(), manifest: imagenetLikeManifest }, readiness: createReadiness('warming-up') });
    try {
      const res = await receiveV2(`${svc.url}/v2/health/ready`, {});
      expect(res.status).to.equal(503);
      expect(res.body).to.include({ code: 'not-ready', error: 'The model is warming up' });
      expectMatchesSpec(svc.api, 'getServerReady', res);
      needConformance(this);
      expectMatchesStandard('getServerReady', res);
    } finally {
      await svc.close();
    }
  });
});
