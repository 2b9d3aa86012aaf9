/**
 * The Open Inference Protocol over gRPC, in-process, on the real default model, called by a
 * client built from the published `.proto` files (`CONFORMANCE_DIR`): every RPC; the same answers
 * as `/upload` and REST V2 for the same photos; bad inputs answered with their status at once,
 * the next call served; Triton's stream answered in order.
 */
import { readFile } from 'node:fs/promises';
import http2 from 'node:http2';
import path from 'node:path';
import { Writable, type Duplex } from 'node:stream';
import { status } from '@grpc/grpc-js';
import { expect } from 'chai';
import { pino } from 'pino';
import { createGrpcClient, predict } from '../../src/client/index.js';
import { rootDir } from '../../src/spec.js';
import { readLabelledFolder } from '../../tools/evaluate.js';
import { catImagePath } from '../fixtures/course-images.js';
import { uploadForm } from '../fixtures/images.js';
import { receive } from '../support/contract.js';
import { locate, need } from '../support/external.js';
import {
  expectOk, expectStatus, grpcClients, rawBytes, readRawBytes, readRawFp32, startGrpc, unaryCall,
  type GrpcClients, type RunningGrpc,
} from '../support/grpc.js';
import { defaultModelManifest, startService, type RunningService } from '../support/service.js';
import { base64Request, output, postJson } from '../support/v2.js';

const smallCatPath = path.join(rootDir, 'resources', 'samples', 'cat-64.jpg');

interface Prediction {
  prediction: string;
  values: number[];
}

interface InferResponse {
  model_name: string;
  model_version: string;
  id: string;
  outputs: { name: string; datatype: string; shape: number[]; contents: { fp32_contents: number[]; bytes_contents: Buffer[] } | null }[];
  raw_output_contents: Buffer[];
}

const imageInput = (images: readonly Uint8Array[], shape = [images.length]) =>
  ({ name: 'image', datatype: 'BYTES', shape, contents: { bytes_contents: images } });

describe('Open Inference Protocol over gRPC, on the default model', function () {
  this.timeout(180_000);
  let svc: RunningService;
  let grpc: RunningGrpc;
  let clients: GrpcClients;
  let cat: Buffer;
  let smallCat: Buffer;
  /** The service's log, one parsed JSON line each. */
  const logLines: Record<string, unknown>[] = [];

  async function upload(image: Buffer): Promise<Prediction> {
    const res = await receive(`${svc.url}/upload`, { method: 'POST', body: uploadForm(image, 'photo') });
    expect(res.status, res.text).to.equal(200);
    return res.body as Prediction;
  }

  /** After a refusal, the next call is served. */
  async function expectServedNext(): Promise<void> {
    const next = expectOk(await unaryCall<InferResponse>(clients.oip, 'ModelInfer', { model_name: 'catdog', inputs: [imageInput([smallCat])] }));
    expect(next.outputs.find((o) => o.name === 'label')!.contents!.bytes_contents.map(String)).to.deep.equal(['Cat']);
  }

  before(async function () {
    const conformance = need(this, 'conformance');
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) logLines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    svc = await startService({ model: { manifestPath: defaultModelManifest }, log: pino({ level: 'info' }, sink) });
    grpc = await startGrpc(svc.app);
    clients = grpcClients(conformance, grpc.address);
    cat = await readFile(catImagePath);
    smallCat = await readFile(smallCatPath);
  });
  after(async () => {
    clients?.close();
    await grpc?.close();
    await svc?.close();
  });

  describe('health and metadata', () => {
    it('ServerLive, ServerReady: true', async () => {
      expect(expectOk(await unaryCall(clients.oip, 'ServerLive', {}))).to.deep.equal({ live: true });
      expect(expectOk(await unaryCall(clients.oip, 'ServerReady', {}))).to.deep.equal({ ready: true });
    });

    it('ServerMetadata: the name, version and extensions of GET /v2', async () => {
      const rest = await receive(`${svc.url}/v2`);
      expect(expectOk(await unaryCall(clients.oip, 'ServerMetadata', {}))).to.deep.equal(rest.body);
    });

    it('ModelMetadata, with and without a version: the inputs, outputs and versions of GET /v2/models/catdog', async () => {
      const rest = (await receive(`${svc.url}/v2/models/catdog`)).body as Record<string, unknown>;
      for (const version of ['', '1']) {
        const answer = expectOk(await unaryCall(clients.oip, 'ModelMetadata', { name: 'catdog', version }));
        expect(answer).to.deep.include({ name: 'catdog', versions: ['1'], platform: 'onnx_onnxv1', inputs: rest.inputs, outputs: rest.outputs });
      }
    });

    it('ModelReady: true for catdog and its version 1; NOT_FOUND for an unknown model or version', async () => {
      expect(expectOk(await unaryCall(clients.oip, 'ModelReady', { name: 'catdog' }))).to.deep.equal({ ready: true });
      expect(expectOk(await unaryCall(clients.oip, 'ModelReady', { name: 'catdog', version: '1' }))).to.deep.equal({ ready: true });
      expectStatus(await unaryCall(clients.oip, 'ModelReady', { name: 'cats' }), status.NOT_FOUND, 'model-not-found');
      expectStatus(await unaryCall(clients.oip, 'ModelMetadata', { name: 'catdog', version: '7' }), status.NOT_FOUND, 'model-not-found');
    });

    it('grpc.health.v1 Check: SERVING for the server, the inference service, the model and liveness; NOT_FOUND for another name', async () => {
      for (const service of ['', 'inference.GRPCInferenceService', 'catdog', 'liveness']) {
        expect(expectOk(await unaryCall(clients.health, 'Check', { service })), service).to.deep.equal({ status: 'SERVING' });
      }
      expectStatus(await unaryCall(clients.health, 'Check', { service: 'cats' }), status.NOT_FOUND);
    });

    it('RPCs of Triton\'s proto that are not served answer UNIMPLEMENTED', async () => {
      expectStatus(await unaryCall(clients.triton, 'ModelStatistics', { name: 'catdog' }), status.UNIMPLEMENTED);
    });
  });

  describe('ModelInfer', () => {
    it('cat.png as bytes_contents: the probabilities and label /upload answers (as float32), model and version, id echoed', async () => {
      const expected = await upload(cat);
      const answer = expectOk(await unaryCall<InferResponse>(clients.oip, 'ModelInfer', { model_name: 'catdog', id: 'a-1', inputs: [imageInput([cat])] }));
      expect(answer).to.include({ model_name: 'catdog', model_version: '1', id: 'a-1' });
      expect(answer.outputs.map((o) => [o.name, o.datatype, o.shape])).to.deep.equal([['probabilities', 'FP32', [1, 3]], ['label', 'BYTES', [1]]]);
      expect(answer.outputs[0]!.contents!.fp32_contents).to.deep.equal(expected.values.map(Math.fround));
      expect(answer.outputs[1]!.contents!.bytes_contents.map(String)).to.deep.equal([expected.prediction]);
      expect(answer.raw_output_contents).to.deep.equal([]);
    });

    it('raw_input_contents (4-byte little-endian length per element): the answer in raw_output_contents, the same numbers', async () => {
      const expected = await upload(cat);
      const answer = expectOk(await unaryCall<InferResponse>(clients.oip, 'ModelInfer', {
        model_name: 'catdog',
        inputs: [{ name: 'image', datatype: 'BYTES', shape: [1] }],
        outputs: [{ name: 'label' }, { name: 'probabilities' }],
        raw_input_contents: [rawBytes([cat])],
      }));
      expect(answer.outputs.map((o) => [o.name, o.contents])).to.deep.equal([['label', null], ['probabilities', null]]);
      expect(readRawBytes(answer.raw_output_contents[0]!)).to.deep.equal([expected.prediction]);
      expect(readRawFp32(answer.raw_output_contents[1]!)).to.deep.equal(expected.values.map(Math.fround));
    });

    it('several photos in one request, bytes and raw, agree with /upload and REST V2 photo by photo, in order', async function () {
      const photos = [cat, smallCat];
      const photosDir = locate('photos');
      if (photosDir) {
        const labelled = await readLabelledFolder(photosDir);
        for (const label of ['cat', 'dog', 'other']) {
          for (const { file } of labelled.filter((l) => l.label === label).slice(0, 2)) photos.push(await readFile(file));
        }
      }
      const expected: Prediction[] = [];
      for (const photo of photos) expected.push(await upload(photo));
      const rest = await postJson(`${svc.url}/v2/models/catdog/infer`, base64Request(photos));
      expect(rest.status, rest.text).to.equal(200);
      const asBytes = expectOk(await unaryCall<InferResponse>(clients.oip, 'ModelInfer', { model_name: 'catdog', inputs: [imageInput(photos)] }));
      const asRaw = expectOk(await unaryCall<InferResponse>(clients.triton, 'ModelInfer', {
        model_name: 'catdog', model_version: '1', inputs: [{ name: 'image', datatype: 'BYTES', shape: [photos.length, 1] }], raw_input_contents: [rawBytes(photos)],
      }));
      const labels = expected.map((e) => e.prediction);
      expect(output(rest, 'label').data).to.deep.equal(labels);
      expect(asBytes.outputs[1]!.contents!.bytes_contents.map(String)).to.deep.equal(labels);
      expect(readRawBytes(asRaw.raw_output_contents[1]!)).to.deep.equal(labels);
      const values = expected.flatMap((e) => e.values);
      expect(output(rest, 'probabilities').data).to.deep.equal(values);
      expect(asBytes.outputs[0]!.contents!.fp32_contents).to.deep.equal(values.map(Math.fround));
      expect(readRawFp32(asRaw.raw_output_contents[0]!)).to.deep.equal(values.map(Math.fround));
      if (photos.length > 2) expect(new Set(labels), 'the photos span the labels').to.have.length(3);
    });

    it('the classification parameter on probabilities: BYTES [N, k] "value:index:label", as on REST', async () => {
      const outputs = [{ name: 'probabilities', parameters: { classification: { int64_param: 2 } } }];
      const answer = expectOk(await unaryCall<InferResponse>(clients.oip, 'ModelInfer', { model_name: 'catdog', inputs: [imageInput([cat])], outputs }));
      const rest = await postJson(`${svc.url}/v2/models/catdog/infer`, { ...base64Request([cat]), outputs: [{ name: 'probabilities', parameters: { classification: 2 } }] });
      expect(answer.outputs[0]).to.deep.include({ name: 'probabilities', datatype: 'BYTES', shape: [1, 2] });
      expect(answer.outputs[0]!.contents!.bytes_contents.map(String)).to.deep.equal(output(rest, 'probabilities').data);
      expect(String(answer.outputs[0]!.contents!.bytes_contents[0])).to.match(/^0\.\d{6}:0:Cat$/);
    });

    it('the model\'s own FP32 tensor as fp32_contents: answered like the image it was made from', async () => {
      const row = new Float32Array(3 * 224 * 224).fill(0.25);
      const viaGrpc = expectOk(await unaryCall<InferResponse>(clients.oip, 'ModelInfer', {
        model_name: 'catdog', inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 3, 224, 224], contents: { fp32_contents: Array.from(row) } }],
      }));
      const raw = Buffer.from(row.buffer);
      const viaRaw = expectOk(await unaryCall<InferResponse>(clients.oip, 'ModelInfer', {
        model_name: 'catdog', inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 3, 224, 224] }], raw_input_contents: [raw],
      }));
      expect(viaGrpc.outputs[0]!.contents!.fp32_contents).to.deep.equal(readRawFp32(viaRaw.raw_output_contents[0]!));
    });
  });

  describe('bad inputs: the status at once, and the next call served', () => {
    const cases: [string, () => object, number, string][] = [
      ['image as FP32', () => ({ model_name: 'catdog', inputs: [{ ...imageInput([]), datatype: 'FP32', shape: [1] }] }), status.INVALID_ARGUMENT, 'tensor-invalid'],
      ['a datatype the protocol does not have', () => ({ model_name: 'catdog', inputs: [{ ...imageInput([cat]), datatype: 'JPEG' }] }), status.INVALID_ARGUMENT, 'validation-failed'],
      ['shape [2], one element', () => ({ model_name: 'catdog', inputs: [imageInput([cat], [2])] }), status.INVALID_ARGUMENT, 'tensor-invalid'],
      ['bytes in fp32_contents', () => ({ model_name: 'catdog', inputs: [{ name: 'image', datatype: 'BYTES', shape: [1], contents: { fp32_contents: [1] } }] }), status.INVALID_ARGUMENT, 'tensor-invalid'],
      ['a raw element whose length runs past its tensor', () => ({ model_name: 'catdog', inputs: [{ name: 'image', datatype: 'BYTES', shape: [1] }], raw_input_contents: [Buffer.from([200, 0, 0, 0, 1, 2])] }), status.INVALID_ARGUMENT, 'binary-data-invalid'],
      ['raw and contents both', () => ({ model_name: 'catdog', inputs: [imageInput([cat])], raw_input_contents: [rawBytes([cat])] }), status.INVALID_ARGUMENT, 'tensor-invalid'],
      ['no inputs', () => ({ model_name: 'catdog' }), status.INVALID_ARGUMENT, 'validation-failed'],
      ['an unknown input', () => ({ model_name: 'catdog', inputs: [{ ...imageInput([cat]), name: 'images' }] }), status.INVALID_ARGUMENT, 'unknown-tensor'],
      ['65 images', () => ({ model_name: 'catdog', inputs: [imageInput(Array<Buffer>(65).fill(smallCat))] }), status.INVALID_ARGUMENT, 'batch-too-large'],
      ['a BYTES element larger than MAX_UPLOAD_BYTES', () => ({ model_name: 'catdog', inputs: [imageInput([Buffer.alloc(10 * 2 ** 20 + 1)])] }), status.RESOURCE_EXHAUSTED, 'payload-too-large'],
      ['bytes that are not an image', () => ({ model_name: 'catdog', inputs: [imageInput([Buffer.from('not an image')])] }), status.INVALID_ARGUMENT, 'image-undecodable'],
      ['an unknown model', () => ({ model_name: 'cats', inputs: [imageInput([cat])] }), status.NOT_FOUND, 'model-not-found'],
      ['an unknown version', () => ({ model_name: 'catdog', model_version: '7', inputs: [imageInput([cat])] }), status.NOT_FOUND, 'model-not-found'],
      ['classification 0', () => ({ model_name: 'catdog', inputs: [imageInput([cat])], outputs: [{ name: 'probabilities', parameters: { classification: { int64_param: 0 } } }] }), status.INVALID_ARGUMENT, 'validation-failed'],
    ];
    for (const [what, request, code, problem] of cases) {
      it(`${what}: ${status[code]} ${problem}`, async () => {
        const before = svc.classifications();
        const outcome = expectStatus(await unaryCall(clients.oip, 'ModelInfer', request()), code, problem);
        expect(outcome.details).to.be.a('string').and.not.equal('');
        expect(outcome.ms, 'answered quickly').to.be.below(5_000);
        if (problem !== 'image-undecodable') expect(svc.classifications(), 'nothing classified').to.equal(before);
        await expectServedNext();
      });
    }

    it('a message over MAX_INFER_BODY_BYTES: RESOURCE_EXHAUSTED from gRPC itself, and the next call served', async () => {
      const small = await startGrpc(svc.app, { maxMessageBytes: 256 * 1024 });
      const client = grpcClients(need(this.ctx, 'conformance'), small.address);
      try {
        expectStatus(await unaryCall(client.oip, 'ModelInfer', { model_name: 'catdog', inputs: [imageInput([cat])] }), status.RESOURCE_EXHAUSTED);
        expectOk(await unaryCall(client.oip, 'ModelInfer', { model_name: 'catdog', inputs: [imageInput([smallCat])] }));
      } finally {
        client.close();
        await small.close();
      }
    });
  });

  describe('ModelStreamInfer', () => {
    it('100 requests on one stream, answered in order (failures as error_message, the stream goes on)', async () => {
      const stream = (clients.triton.ModelStreamInfer as () => Duplex)();
      const answers: { error_message: string; infer_response: InferResponse | null }[] = [];
      stream.on('data', (answer: (typeof answers)[number]) => answers.push(answer));
      const ended = new Promise<void>((resolve, reject) => {
        stream.on('end', resolve);
        stream.on('error', reject);
      });
      for (let i = 0; i < 100; i++) {
        const bad = i % 10 === 7;
        stream.write({ model_name: 'catdog', id: String(i), inputs: [bad ? { ...imageInput([smallCat]), datatype: 'FP32' } : imageInput([smallCat])] });
      }
      stream.end();
      await ended;
      expect(answers).to.have.length(100);
      answers.forEach((answer, i) => {
        if (i % 10 === 7) {
          expect(answer.infer_response, `answer ${i}`).to.equal(null);
          expect(answer.error_message).to.match(/Input "image" is FP32/);
        } else {
          expect(answer.error_message, `answer ${i}`).to.equal('');
          expect(answer.infer_response!.id).to.equal(String(i));
          expect(answer.infer_response!.outputs[1]!.contents!.bytes_contents.map(String)).to.deep.equal(['Cat']);
        }
      });
    });
  });

  describe('repository', () => {
    it('RepositoryIndex: every version and its state, as POST /v2/repository/index', async () => {
      const rest = await postJson(`${svc.url}/v2/repository/index`, {});
      const answer = expectOk(await unaryCall<{ models: unknown[] }>(clients.triton, 'RepositoryIndex', { ready: true }));
      expect(answer.models).to.deep.equal(rest.body);
    });

    it('RepositoryModelLoad / Unload on a fixed model: FAILED_PRECONDITION model-control-disabled', async () => {
      expectStatus(await unaryCall(clients.triton, 'RepositoryModelLoad', { model_name: 'catdog' }), status.FAILED_PRECONDITION, 'model-control-disabled');
      expectStatus(await unaryCall(clients.triton, 'RepositoryModelUnload', { model_name: 'catdog' }), status.FAILED_PRECONDITION, 'model-control-disabled');
    });
  });

  describe('the typed client and predict --protocol grpc', () => {
    it('createGrpcClient: the labels and probabilities /upload answers, in order, with the model\'s labels', async () => {
      const expected = [await upload(cat), await upload(smallCat)];
      const client = createGrpcClient({ address: grpc.address });
      try {
        const answer = await client.inferImages([cat, smallCat], { id: 'two' });
        expect(answer).to.include({ modelName: 'catdog', modelVersion: '1' });
        expect(answer.predictions.map((p) => p.label)).to.deep.equal(expected.map((e) => e.prediction));
        expect(answer.predictions[0]!.labels).to.deep.equal(['Cat', 'Dog', 'Other']);
        // Six decimals, as the classification extension writes them.
        answer.predictions.forEach((p, i) => p.probabilities.forEach((v, j) => expect(v).to.be.closeTo(expected[i]!.values[j]!, 5e-7)));
      } finally {
        client.close();
      }
    });

    it('predict --protocol grpc: one line per file; an unknown model refused with its status and problem code', async () => {
      let out = '';
      let err = '';
      const io = { stdout: { write: (t: string) => (out += t) }, stderr: { write: (t: string) => (err += t) }, env: {} };
      expect(await predict([catImagePath, smallCatPath, '--protocol', 'grpc', '--grpc-address', grpc.address], io)).to.equal(0);
      expect(out).to.match(/cat\.png: Cat \(0\.8\d\d\)\n.*cat-64\.jpg: Cat/);
      expect(await predict([catImagePath, '--protocol', 'grpc', '--grpc-address', grpc.address, '--model', 'cats'], io)).to.equal(1);
      expect(err).to.match(/cat\.png: gRPC 5 model-not-found: No model named "cats"/);
    });
  });

  describe('HTTP/2 flow control (GRPC_FLOW_CONTROL_WINDOW)', () => {
    /** What a client is told it may send on a new connection to `address`, before any acknowledgement. */
    async function windowsOffered(address: string): Promise<{ perCall: number; connection: number }> {
      const session = http2.connect(`http://${address}`);
      try {
        await new Promise((resolve, reject) => session.once('remoteSettings', resolve).once('error', reject));
        // The server widens the connection's window as it opens it: its WINDOW_UPDATE comes before a PING's answer.
        await new Promise<void>((resolve, reject) => session.ping((err) => (err ? reject(err) : resolve())));
        return { perCall: session.remoteSettings.initialWindowSize!, connection: session.state.remoteWindowSize! };
      } finally {
        session.close();
      }
    }

    it('offers 1 MiB per call and per connection by default, so a photo is sent without waiting for window updates', async () => {
      expect(await windowsOffered(grpc.address)).to.deep.equal({ perCall: 1_048_576, connection: 1_048_576 });
      await expectServedNext();
    });

    it('65535 keeps HTTP/2\'s own windows', async () => {
      const plain = await startGrpc(svc.app, { flowControlWindow: 65_535 });
      try {
        expect(await windowsOffered(plain.address)).to.deep.equal({ perCall: 65_535, connection: 65_535 });
      } finally {
        await plain.close();
      }
    });
  });

  describe('the log and the metrics', () => {
    it('one log line per call with its request id, model, version, prediction and the answer\'s inference id', async () => {
      const answer = expectOk(await unaryCall<InferResponse>(
        clients.oip, 'ModelInfer', { model_name: 'catdog', inputs: [imageInput([cat])] }, { metadata: { 'x-request-id': 'grpc-log-1' } },
      ));
      const line = logLines.find((l) => l.reqId === 'grpc-log-1' && l.msg === 'rpc');
      expect(line).to.include({
        protocol: 'grpc', operation: 'ModelInfer', status: 'OK', model: 'catdog', modelVersion: answer.model_version, prediction: 'Cat', inferenceId: answer.id,
      });
      expect(answer.id).to.have.length.above(0);
    });

    it('per-RPC request metrics, by status name', async () => {
      await unaryCall(clients.oip, 'ServerLive', {});
      await unaryCall(clients.oip, 'ModelInfer', { model_name: 'cats', inputs: [imageInput([cat])] });
      const text = await svc.app.metrics.registry.metrics();
      expect(text).to.match(/catdog_grpc_requests_total\{rpc="ServerLive",code="OK"\} [1-9]/);
      expect(text).to.match(/catdog_grpc_requests_total\{rpc="ModelInfer",code="NOT_FOUND"\} [1-9]/);
      expect(text).to.match(/catdog_requests_rejected_total\{reason="model-not-found"\} [1-9]/);
    });
  });
});
