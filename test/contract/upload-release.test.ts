/**
 * An upload's bytes are given back as soon as its answer is written (`src/release-bytes.ts`):
 * the memory of the `/upload` file part, of a V2 binary body and of a gRPC `ModelInfer` message is
 * freed then, not at V8's next full collection. On the real default model, over real HTTP and
 * HTTP/2 on loopback; the test sees the bytes the classifier was handed, and finds them detached
 * once the answer has arrived. (That they are kept
 * while the shadow or the payload logger still needs them is shown by test/system/model-traffic
 * and payload-events.)
 */
import { readFile } from 'node:fs/promises';
import { expect } from 'chai';
import { catImagePath } from '../fixtures/course-images.js';
import { uploadForm } from '../fixtures/images.js';
import { receive } from '../support/contract.js';
import { need } from '../support/external.js';
import { expectOk, grpcClients, rawBytes, readRawBytes, startGrpc, unaryCall } from '../support/grpc.js';
import { defaultModelManifest, startService, type RunningService } from '../support/service.js';
import { bytesTensor, imagesHeader, postBinary, readBytesOutput } from '../support/v2.js';

/** Whether `bytes`' memory has been given back (their `ArrayBuffer` detached, ES2024). */
function released(bytes: Uint8Array): boolean {
  return (bytes.buffer as ArrayBuffer & { readonly detached?: boolean }).detached === true;
}

describe("an upload's bytes, once it is answered", function () {
  this.timeout(120_000);
  let svc: RunningService;
  let cat: Buffer;
  /** The bytes the classifier was handed, request after request. */
  const handed: Uint8Array[] = [];

  before(async () => {
    svc = await startService({ model: { manifestPath: defaultModelManifest }, beforeClassify: async (image) => void handed.push(image) });
    cat = await readFile(catImagePath);
  });
  beforeEach(() => {
    handed.length = 0;
  });
  after(() => svc?.close());

  it('POST /upload: the file part is given back when the answer is written', async () => {
    const res = await receive(`${svc.url}/upload`, { method: 'POST', body: uploadForm(cat, 'cat.png') });
    expect(res.status, res.text).to.equal(200);
    expect((res.body as { prediction: string }).prediction).to.equal('Cat');
    expect(handed).to.have.length(1);
    // Classified from the bytes as uploaded, then released: they now read as empty.
    expect(released(handed[0]!)).to.equal(true);
    expect(handed[0]!.byteLength).to.equal(0);
  });

  it('POST /v2/models/{name}/infer with binary data: the body, and each image within it, given back when the answer is written', async () => {
    const res = await postBinary(`${svc.url}/v2/models/catdog/infer`, imagesHeader([cat, cat], { parameters: { binary_data_output: true } }), [bytesTensor([cat, cat])]);
    expect(res.status, res.text).to.equal(200);
    expect(readBytesOutput(res.binary.label!)).to.deep.equal(['Cat', 'Cat']);
    expect(handed).to.have.length(2);
    expect(handed.map(released)).to.deep.equal([true, true]);
  });

  it('gRPC ModelInfer with raw_input_contents: the message, and each image within it, given back once answered', async function () {
    const grpc = await startGrpc(svc.app);
    const clients = grpcClients(need(this, 'conformance'), grpc.address);
    try {
      const answer = expectOk(await unaryCall<{ raw_output_contents: Buffer[] }>(clients.oip, 'ModelInfer', {
        model_name: 'catdog',
        inputs: [{ name: 'image', datatype: 'BYTES', shape: [2] }],
        outputs: [{ name: 'label' }],
        raw_input_contents: [rawBytes([cat, cat])],
      }));
      expect(readRawBytes(answer.raw_output_contents[0]!)).to.deep.equal(['Cat', 'Cat']);
      expect(handed).to.have.length(2);
      expect(handed.map(released)).to.deep.equal([true, true]);
    } finally {
      clients.close();
      await grpc.close();
    }
  });
});
