/**
 * The Open Inference Protocol (V2) over real HTTP, on the real default model: health, metadata,
 * and inference in every form a client may send (base64 JSON, binary, raw binary, the model's
 * own tensor), with the same answers as `/upload` for the same photos. Every answer is checked
 * against our spec and against the published standard (`CONFORMANCE_DIR`'s oip/).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { expect } from 'chai';
import { createClassifierClient, inferImages, predictionsOf } from '../../src/client/index.js';
import { loadManifest } from '../../src/model/manifest.js';
import { createPreprocessor } from '../../src/model/image/preprocess.js';
import { rootDir } from '../../src/spec.js';
import { readLabelledFolder } from '../../tools/evaluate.js';
import { catImagePath } from '../fixtures/course-images.js';
import { uploadForm } from '../fixtures/images.js';
import { expectMatchesSpec, receive, type Received } from '../support/contract.js';
import { locate } from '../support/external.js';
import { expectMatchesStandard, needConformance } from '../support/oip.js';
import { defaultModelManifest, startService, type RunningService } from '../support/service.js';
import {
  base64Request, bytesTensor, imagesHeader, output, postBinary, postJson, readBytesOutput, readFp32Output, receiveV2, type ReceivedV2,
} from '../support/v2.js';

const manifestPath = defaultModelManifest;
const smallCatPath = path.join(rootDir, 'resources', 'samples', 'cat-64.jpg');

interface Prediction {
  prediction: string;
  values: number[];
}

describe('Open Inference Protocol (V2), on the default model', function () {
  this.timeout(180_000);
  let svc: RunningService;
  let cat: Buffer;
  const infer = (): string => `${svc.url}/v2/models/catdog/infer`;

  /** Checks `res` against our spec and the published standard, for `operationId`. */
  function expectConforms(context: Mocha.Context, operationId: string, res: ReceivedV2 | Received): void {
    expectMatchesSpec(svc.api, operationId, res);
    needConformance(context);
    expectMatchesStandard(operationId, res, (res as ReceivedV2).header);
  }

  async function upload(image: Buffer): Promise<Prediction> {
    const res = await receive(`${svc.url}/upload`, { method: 'POST', body: uploadForm(image, 'photo') });
    expect(res.status, res.text).to.equal(200);
    return res.body as Prediction;
  }

  before(async () => {
    svc = await startService({ model: { manifestPath } });
    cat = await readFile(catImagePath);
  });
  after(() => svc?.close());

  describe('health and metadata', () => {
    it('GET /v2/health/live: {"live": true}', async function () {
      const res = await receiveV2(`${svc.url}/v2/health/live`, {});
      expect(res.status).to.equal(200);
      expect(res.body).to.deep.equal({ live: true });
      expectConforms(this, 'getServerLive', res);
    });

    it('GET /v2/health/ready: {"ready": true, "live": true} (the prose names the member live)', async function () {
      const res = await receiveV2(`${svc.url}/v2/health/ready`, {});
      expect(res.status).to.equal(200);
      expect(res.body).to.deep.equal({ ready: true, live: true });
      expectConforms(this, 'getServerReady', res);
    });

    for (const route of ['/v2', '/v2/']) {
      it(`GET ${route}: the server metadata lists binary_tensor_data and classification`, async function () {
        const res = await receiveV2(`${svc.url}${route}`, {});
        expect(res.status).to.equal(200);
        const body = res.body as { name: string; version: string; extensions: string[] };
        expect(body.name).to.equal('cat-dog-other');
        expect(body.extensions).to.include.members(['binary_tensor_data', 'classification']);
        expectConforms(this, 'getServerMetadata', res);
      });
    }

    for (const [route, operationId] of [['/v2/models/catdog', 'getModelMetadata'], ['/v2/models/catdog/versions/1', 'getModelVersionMetadata']] as const) {
      it(`GET ${route}: the image input, the model's own tensor, both outputs, the labels and the READY versions`, async function () {
        const res = await receiveV2(`${svc.url}${route}`, {});
        expect(res.status, res.text).to.equal(200);
        const manifest = await loadManifest(manifestPath);
        expect(res.body).to.deep.include({
          name: 'catdog',
          versions: ['1'],
          platform: 'onnx_onnxv1',
          inputs: [
            { name: 'image', datatype: 'BYTES', shape: [-1] },
            { name: manifest.input.name, datatype: 'FP32', shape: [-1, 3, manifest.input.height, manifest.input.width] },
          ],
          outputs: [
            { name: 'probabilities', datatype: 'FP32', shape: [-1, 3] },
            { name: 'label', datatype: 'BYTES', shape: [-1] },
          ],
          labels: ['Cat', 'Dog', 'Other'],
        });
        expectConforms(this, operationId, res);
      });
    }

    for (const [route, operationId] of [['/v2/models/catdog/ready', 'getModelReady'], ['/v2/models/catdog/versions/1/ready', 'getModelVersionReady']] as const) {
      it(`GET ${route}: {"name": "catdog", "ready": true}`, async function () {
        const res = await receiveV2(`${svc.url}${route}`, {});
        expect(res.status).to.equal(200);
        expect(res.body).to.deep.equal({ name: 'catdog', ready: true });
        expectConforms(this, operationId, res);
      });
    }

    for (const [route, operationId] of [
      ['/v2/models/cats', 'getModelMetadata'],
      ['/v2/models/catdog/versions/7', 'getModelVersionMetadata'],
      ['/v2/models/cats/ready', 'getModelReady'],
      ['/v2/models/catdog/versions/7/ready', 'getModelVersionReady'],
    ] as const) {
      it(`GET ${route}: 404 model-not-found, with the protocol's "error"`, async function () {
        const res = await receiveV2(`${svc.url}${route}`, {});
        expect(res.status).to.equal(404);
        expect(res.headers.get('content-type')).to.match(/^application\/json/);
        expect(res.body).to.include({ code: 'model-not-found' });
        expect((res.body as { error: string }).error).to.match(/^(No model named "cats"|Model "catdog" has no version "7")$/);
        expectConforms(this, operationId, res);
      });
    }

    it('serves the error as application/problem+json to a client that asks for it', async () => {
      const res = await receiveV2(`${svc.url}/v2/models/cats`, { headers: { accept: 'application/problem+json' } });
      expect(res.status).to.equal(404);
      expect(res.headers.get('content-type')).to.match(/^application\/problem\+json/);
      expect(res.body).to.include({ code: 'model-not-found', error: 'No model named "cats"' });
    });
  });

  describe('inference', () => {
    it('base64 JSON: cat.png is a Cat, with the same probabilities as /upload, the id echoed, model_name and model_version', async function () {
      const expected = await upload(cat);
      const res = await postJson(infer(), base64Request([cat], { id: 'cat-1' }));
      expect(res.status, res.text).to.equal(200);
      expect(res.headers.get('content-type')).to.match(/^application\/json/);
      expect(res.body).to.include({ model_name: 'catdog', model_version: '1', id: 'cat-1' });
      expect(output(res, 'label')).to.deep.equal({ name: 'label', datatype: 'BYTES', shape: [1], data: ['Cat'] });
      expect(output(res, 'probabilities')).to.deep.equal({ name: 'probabilities', datatype: 'FP32', shape: [1, 3], data: expected.values });
      expectConforms(this, 'inferModel', res);
    });

    it('binary request, JSON answer: the same, on the version asked for', async function () {
      const expected = await upload(cat);
      const res = await postBinary(`${svc.url}/v2/models/catdog/versions/1/infer`, imagesHeader([cat]), [bytesTensor([cat])]);
      expect(res.status, res.text).to.equal(200);
      expect(output(res, 'label').data).to.deep.equal(['Cat']);
      expect(output(res, 'probabilities').data).to.deep.equal(expected.values);
      expectConforms(this, 'inferModelVersion', res);
    });

    it('binary answer (binary_data_output): an octet-stream with Inference-Header-Content-Length, FP32 little-endian and BYTES elements', async function () {
      const expected = await upload(cat);
      const res = await postBinary(infer(), imagesHeader([cat], { parameters: { binary_data_output: true } }), [bytesTensor([cat])]);
      expect(res.status, res.text).to.equal(200);
      expect(output(res, 'probabilities')).to.deep.equal({ name: 'probabilities', datatype: 'FP32', shape: [1, 3], parameters: { binary_data_size: 12 } });
      expect(readFp32Output(res.binary.probabilities!)).to.deep.equal(expected.values.map(Math.fround));
      expect(readBytesOutput(res.binary.label!)).to.deep.equal(['Cat']);
      expectConforms(this, 'inferModel', res);
    });

    it('binary_data on one output overrides binary_data_output; only the outputs asked for, in the order asked', async () => {
      const header = imagesHeader([cat], {
        parameters: { binary_data_output: true },
        outputs: [{ name: 'label', parameters: { binary_data: false } }, { name: 'probabilities' }],
      });
      const res = await postBinary(infer(), header, [bytesTensor([cat])]);
      expect(res.status, res.text).to.equal(200);
      expect(res.header!.outputs.map((o) => o.name)).to.deep.equal(['label', 'probabilities']);
      expect(output(res, 'label').data).to.deep.equal(['Cat']);
      expect(Object.keys(res.binary)).to.deep.equal(['probabilities']);
      const only = await postJson(infer(), base64Request([cat], { outputs: [{ name: 'label' }] }));
      expect((only.body as { outputs: { name: string }[] }).outputs.map((o) => o.name)).to.deep.equal(['label']);
    });

    it('raw binary request (Inference-Header-Content-Length: 0): the image alone, with or without its 4-byte length; every output binary', async function () {
      for (const body of [cat, bytesTensor([cat])]) {
        const res = await receiveV2(infer(), { method: 'POST', headers: { 'inference-header-content-length': '0' }, body });
        expect(res.status, res.text).to.equal(200);
        expect(readBytesOutput(res.binary.label!)).to.deep.equal(['Cat']);
        expect(res.binary.probabilities).to.have.length(12);
        expectConforms(this, 'inferModel', res);
      }
    });

    it('classification k: BYTES [N, k] of "value:index:label", highest first; k past the labels is clamped', async function () {
      const expected = await upload(cat);
      const order = [0, 1, 2].sort((a, b) => expected.values[b]! - expected.values[a]!);
      const res = await postJson(infer(), base64Request([cat, cat], { outputs: [{ name: 'probabilities', parameters: { classification: 2 } }] }));
      expect(res.status, res.text).to.equal(200);
      const element = (i: number): string => `${expected.values[i]!.toFixed(6)}:${i}:${['Cat', 'Dog', 'Other'][i]}`;
      expect(output(res, 'probabilities')).to.deep.equal({
        name: 'probabilities', datatype: 'BYTES', shape: [2, 2], data: [element(order[0]!), element(order[1]!), element(order[0]!), element(order[1]!)],
      });
      expectConforms(this, 'inferModel', res);
      const clamped = await postJson(infer(), base64Request([cat], { outputs: [{ name: 'probabilities', parameters: { classification: 10 } }] }));
      expect(output(clamped, 'probabilities').shape).to.deep.equal([1, 3]);
    });

    it('several photos in one request, JSON and binary, agree with /upload photo by photo, in order', async function () {
      const photos = [cat, await readFile(smallCatPath)];
      const photosDir = locate('photos');
      if (photosDir) {
        const labelled = await readLabelledFolder(photosDir);
        for (const label of ['cat', 'dog', 'other']) {
          for (const { file } of labelled.filter((l) => l.label === label).slice(0, 2)) photos.push(await readFile(file));
        }
      } else {
        console.warn('      (TRAIN_DATA not set: cat.png and cat-64.jpg only; see the summary at the end)');
      }
      const expected = [];
      for (const photo of photos) expected.push(await upload(photo));
      const asJson = await postJson(infer(), base64Request(photos));
      const asBinary = await postBinary(infer(), imagesHeader(photos, { parameters: { binary_data_output: true } }), [bytesTensor(photos)]);
      expect(asJson.status, asJson.text).to.equal(200);
      expect(asBinary.status, asBinary.text).to.equal(200);
      expect(output(asJson, 'label').data).to.deep.equal(expected.map((e) => e.prediction));
      expect(output(asJson, 'probabilities').data).to.deep.equal(expected.flatMap((e) => e.values));
      expect(readBytesOutput(asBinary.binary.label!)).to.deep.equal(expected.map((e) => e.prediction));
      expect(readFp32Output(asBinary.binary.probabilities!)).to.deep.equal(expected.flatMap((e) => e.values.map(Math.fround)));
      if (photos.length > 2) expect(new Set(expected.map((e) => e.prediction)), 'the photos span the labels').to.have.length(3);
      expectConforms(this, 'inferModel', asJson);
      expectConforms(this, 'inferModel', asBinary);
    });

    it("the model's own FP32 tensor (client-side preprocessing), JSON and binary, answers as /upload does", async function () {
      const manifest = await loadManifest(manifestPath);
      const row = await createPreprocessor(manifest.input, { maxImagePixels: 40_000_000 })(cat);
      const expected = await upload(cat);
      const shape = [1, 3, manifest.input.height, manifest.input.width];
      const asJson = await postJson(infer(), { inputs: [{ name: manifest.input.name, datatype: 'FP32', shape, data: Array.from(row) }] });
      expect(asJson.status, asJson.text).to.equal(200);
      expect(output(asJson, 'label').data).to.deep.equal([expected.prediction]);
      expect(output(asJson, 'probabilities').data).to.deep.equal(expected.values);
      const header = { inputs: [{ name: manifest.input.name, datatype: 'FP32', shape, parameters: { binary_data_size: row.byteLength } }] };
      const asBinary = await postBinary(infer(), header, [Buffer.from(row.buffer, row.byteOffset, row.byteLength)]);
      expect(asBinary.status, asBinary.text).to.equal(200);
      expect(output(asBinary, 'probabilities').data).to.deep.equal(expected.values);
      expectConforms(this, 'inferModel', asBinary);
    });

    it("JSON without a Content-Type (Triton's Python client) and gzip-encoded bodies are read", async () => {
      const plain = await receiveV2(infer(), { method: 'POST', body: Buffer.from(JSON.stringify(base64Request([cat]))) });
      expect(plain.status, plain.text).to.equal(200);
      const gzipped = await receiveV2(infer(), {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
        body: gzipSync(JSON.stringify(base64Request([cat]))),
      });
      expect(gzipped.status, gzipped.text).to.equal(200);
      expect(output(gzipped, 'label').data).to.deep.equal(['Cat']);
    });

    it('the typed client sends the images as one binary batch and reads each answer', async () => {
      const client = createClassifierClient({ baseUrl: svc.url });
      const photos = [cat, await readFile(smallCatPath)];
      const { data, error } = await inferImages(client, photos, { id: 'two' });
      expect(error).to.equal(undefined);
      expect(data!.id).to.equal('two');
      const predictions = predictionsOf(data!);
      expect(predictions.map((p) => p.label)).to.deep.equal(['Cat', 'Cat']);
      expect(predictions[0]!.probabilities).to.deep.equal((await upload(cat)).values);
    });

    it('counts the images of each request in catdog_inference_request_images', async () => {
      const metrics = async (): Promise<string> => (await receive(`${svc.url}/metrics`)).text;
      const count = (text: string): number => Number(/^catdog_inference_request_images_count (\d+)/m.exec(text)?.[1] ?? 0);
      const sum = (text: string): number => Number(/^catdog_inference_request_images_sum (\d+)/m.exec(text)?.[1] ?? 0);
      const before = await metrics();
      await postJson(infer(), base64Request([cat, cat, cat]));
      const after = await metrics();
      expect(count(after) - count(before)).to.equal(1);
      expect(sum(after) - sum(before)).to.equal(3);
      expect(after).to.match(/catdog_http_requests_total\{operation="inferModel",status="200"\} \d+/);
    });
  });
});
