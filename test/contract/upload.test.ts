/**
 * POST /upload over real HTTP with fixture models: the answer's shape, the manifest-driven
 * preprocessing, and every bad input the contract promises an answer for.
 */
import { expect } from 'chai';
import { classifyImage, createClassifierClient } from '../../src/client/index.js';
import { buildCourseVggLikeModel, buildImagenetLikeModel, courseVggLikeManifest, imagenetLikeManifest } from '../fixtures/onnx-models.js';
import { multipartBody, pngDeclaring, solidImage, uploadForm, type Colour } from '../fixtures/images.js';
import { expectMatchesSpec, expectProblem, receive, receivedFromClient } from '../support/contract.js';
import { startService, type RunningService } from '../support/service.js';

const expected: Record<Colour, string> = { red: 'Cat', green: 'Dog', blue: 'Other' };

describe('POST /upload', () => {
  describe('with an ImageNet-shaped model grouped into Cat / Dog / Other', () => {
    let svc: RunningService;
    before(async () => {
      svc = await startService({
        model: { bytes: buildImagenetLikeModel(), manifest: imagenetLikeManifest },
        maxUploadBytes: 256 * 1024,
        maxImagePixels: 10_000_000,
      });
    });
    after(() => svc.close());

    const upload = (form: FormData) => receive(`${svc.url}/upload`, { method: 'POST', body: form });

    for (const colour of ['red', 'green', 'blue'] as const) {
      it(`classifies a ${colour} PNG as ${expected[colour]}, with probabilities in label order`, async () => {
        const client = createClassifierClient({ baseUrl: svc.url });
        const result = await classifyImage(client, await solidImage(colour), { filename: `${colour}.png`, type: 'image/png' });
        const res = receivedFromClient(result);
        expect(res.status, res.text).to.equal(200);
        expectMatchesSpec(svc.api, 'classifyImage', res);
        const body = result.data!;
        expect(body.prediction).to.equal(expected[colour]);
        expect(body.labels).to.deep.equal(['Cat', 'Dog', 'Other']);
        // A model served alone (MODEL_MANIFEST) is version 1 of the default model.
        expect(body.model_version).to.equal('1');
        expect(body.values).to.have.length(3);
        expect(body.values.reduce((a, b) => a + b, 0)).to.be.closeTo(1, 1e-6);
        expect(body.values[body.labels!.indexOf(body.prediction)]).to.equal(Math.max(...body.values));
      });
    }

    for (const format of ['jpeg', 'webp', 'gif', 'tiff', 'avif'] as const) {
      it(`decodes ${format.toUpperCase()}`, async () => {
        const res = await upload(uploadForm(await solidImage('green', format), `g.${format}`, `image/${format}`));
        expect(res.status, res.text).to.equal(200);
        expect((res.body as { prediction: string }).prediction).to.equal('Dog');
      });
    }

    it('answers 400 validation-failed when there is no file part', async () => {
      const form = new FormData();
      form.append('note', 'no image here');
      const res = await upload(form);
      expectProblem(res, 400, 'validation-failed');
      expectMatchesSpec(svc.api, 'classifyImage', res);
    });

    it('answers 400 when the file arrives under another field name', async () => {
      const form = new FormData();
      form.append('image', new Blob([await solidImage('red')]), 'a.png');
      const res = await upload(form);
      expectProblem(res, 400, 'validation-failed');
      expect((res.body as { detail: string }).detail).to.contain('image');
    });

    it('answers 400 when two file parts are sent', async () => {
      const form = uploadForm(await solidImage('red'));
      form.append('file', new Blob([await solidImage('blue')]), 'b.png');
      const res = await upload(form);
      expectProblem(res, 400, 'validation-failed');
    });

    it('answers 400 bad-request for a multipart body that never closes', async () => {
      const body = Buffer.from('--xyz\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\nabc');
      const res = await receive(`${svc.url}/upload`, {
        method: 'POST',
        headers: { 'content-type': 'multipart/form-data; boundary=xyz' },
        body,
      });
      expectProblem(res, 400, 'bad-request');
      expectMatchesSpec(svc.api, 'classifyImage', res);
    });

    it('answers 400 bad-request for a multipart content type without boundary', async () => {
      const res = await receive(`${svc.url}/upload`, {
        method: 'POST',
        headers: { 'content-type': 'multipart/form-data' },
        body: 'hello',
      });
      expectProblem(res, 400, 'bad-request');
    });

    it('answers 415 for a JSON body, naming what it accepts', async () => {
      const res = await receive(`${svc.url}/upload`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"file":"x"}',
      });
      expectProblem(res, 415, 'unsupported-media-type');
      expect(res.headers.get('accept')).to.equal('multipart/form-data');
      expectMatchesSpec(svc.api, 'classifyImage', res);
    });

    it('answers 415 for a raw image body without multipart', async () => {
      const res = await receive(`${svc.url}/upload`, {
        method: 'POST',
        headers: { 'content-type': 'image/png' },
        body: await solidImage('red'),
      });
      expectProblem(res, 415, 'unsupported-media-type');
    });

    it('answers 422 for a file that is not an image', async () => {
      const res = await upload(uploadForm(Buffer.from('just some text, not pixels'), 'a.txt', 'text/plain'));
      expectProblem(res, 422, 'image-undecodable');
      expectMatchesSpec(svc.api, 'classifyImage', res);
    });

    it('answers 422 for a truncated PNG', async () => {
      const png = await solidImage('red', 'png', 200);
      const res = await upload(uploadForm(png.subarray(0, Math.floor(png.length / 2))));
      expectProblem(res, 422, 'image-undecodable');
    });

    it('answers 422 for an empty file part', async () => {
      const res = await upload(uploadForm(new Uint8Array()));
      expectProblem(res, 422, 'image-undecodable');
    });

    it('answers 413 image-too-large for a PNG declaring 50,000 × 50,000 pixels, without decoding it', async () => {
      const bomb = pngDeclaring(50_000, 50_000);
      expect(bomb.length).to.be.below(10_000);
      const started = performance.now();
      const res = await upload(uploadForm(bomb));
      expectProblem(res, 413, 'image-too-large');
      expectMatchesSpec(svc.api, 'classifyImage', res);
      // Decoding 2.5 billion pixels would take far longer and gigabytes of memory.
      expect(performance.now() - started).to.be.below(5_000);
    });

    it('answers 413 payload-too-large for a file over MAX_UPLOAD_BYTES', async () => {
      const res = await upload(uploadForm(Buffer.alloc(300 * 1024, 7)));
      expectProblem(res, 413, 'payload-too-large');
      expectMatchesSpec(svc.api, 'classifyImage', res);
    });

    it('answers 413 at once from a declared Content-Length far over the limit, without reading the body', async () => {
      const { request } = await import('node:http');
      const status = await new Promise<number>((resolve, reject) => {
        const req = request(`${svc.url}/upload`, {
          method: 'POST',
          headers: { 'content-type': 'multipart/form-data; boundary=b', 'content-length': String(5 * 1024 ** 3) },
        });
        req.on('response', (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.write('--b\r\n'); // and never the rest of the 5 GiB
      });
      expect(status).to.equal(413);
    });

    it('keeps serving after every kind of bad input', async () => {
      const before = svc.classifications();
      const res = await upload(uploadForm(await solidImage('red')));
      expect(res.status).to.equal(200);
      expect((res.body as { prediction: string }).prediction).to.equal('Cat');
      expect(svc.classifications()).to.equal(before + 1);
    });

    it('answers 405 with Allow for GET /upload', async () => {
      const res = await receive(`${svc.url}/upload`);
      expectProblem(res, 405, 'method-not-allowed');
      expect(res.headers.get('allow')).to.equal('POST');
      expectMatchesSpec(svc.api, 'classifyImage', res);
    });

    it('accepts a hand-built multipart body with a part Content-Type of application/octet-stream', async () => {
      const body = multipartBody('B0und', [
        { name: 'file', filename: 'x.bin', type: 'application/octet-stream', data: await solidImage('blue') },
      ]);
      const res = await receive(`${svc.url}/upload`, {
        method: 'POST',
        headers: { 'content-type': 'multipart/form-data; boundary=B0und' },
        body,
      });
      expect(res.status, res.text).to.equal(200);
      expect((res.body as { prediction: string }).prediction).to.equal('Other');
    });
  });

  describe('with a course-style Keras VGG16 export (NHWC, mean subtraction, sigmoid), served by a manifest only', () => {
    let svc: RunningService;
    before(async () => {
      svc = await startService({ model: { bytes: buildCourseVggLikeModel(), manifest: courseVggLikeManifest } });
    });
    after(() => svc.close());

    for (const colour of ['red', 'green', 'blue'] as const) {
      it(`classifies a ${colour} image as ${expected[colour]} with independent sigmoid values`, async () => {
        const res = await receive(`${svc.url}/upload`, { method: 'POST', body: uploadForm(await solidImage(colour, 'jpeg')) });
        expect(res.status, res.text).to.equal(200);
        expectMatchesSpec(svc.api, 'classifyImage', res);
        const body = res.body as { prediction: string; values: number[] };
        expect(body.prediction).to.equal(expected[colour]);
        for (const v of body.values) expect(v).to.be.within(0, 1);
      });
    }
  });
});
