/**
 * Issue 22's bodies that answered 500: data nested without bound, a base64 photo of several
 * megabytes, and bodies whose Content-Encoding lies. Each is a 4xx now, quickly, on every route that
 * reads a body, and the next request is served; and every photo `/upload` accepts is accepted as
 * base64 in V2 JSON too, up to the body limit.
 */
import { gzipSync } from 'node:zlib';
import { expect } from 'chai';
import sharp from 'sharp';
import { buildImagenetLikeModel, imagenetLikeManifest } from '../fixtures/onnx-models.js';
import { solidImage, uploadForm } from '../fixtures/images.js';
import { expectMatchesSpec, receive } from '../support/contract.js';
import { startService, type RunningService } from '../support/service.js';
import { base64Request, imagesHeader, output, postJson, receiveV2, type ReceivedV2 } from '../support/v2.js';

/** "Quickly": a bound no loaded machine comes near for these refusals. */
const QUICKLY_MS = 5_000;

/** A noisy photo-like JPEG of `width` × `height` pixels (noise does not compress: megabytes). */
async function noisyJpeg(width: number, height: number): Promise<Buffer> {
  const pixels = Buffer.alloc(width * height * 3);
  let seed = 12345;
  for (let i = 0; i < pixels.length; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    pixels[i] = seed >>> 24;
  }
  return sharp(pixels, { raw: { width, height, channels: 3 } }).jpeg({ quality: 95 }).toBuffer();
}

describe('issue 22: no 500 on any client input', function () {
  this.timeout(120_000);
  let svc: RunningService;
  let red: Buffer;
  const infer = (): string => `${svc.url}/v2/models/catdog/infer`;

  before(async () => {
    svc = await startService({ model: { bytes: buildImagenetLikeModel(), manifest: imagenetLikeManifest } });
    red = await solidImage('red');
  });
  after(() => svc?.close());

  /** Asserts a quick 4xx with `code`, then that a good request is still answered. */
  async function expectRefused(res: ReceivedV2 | { status: number; ms: number; text: string; body: unknown }, status: number, code: string): Promise<void> {
    expect(res.status, res.text).to.equal(status);
    expect(res.ms, 'answered quickly').to.be.below(QUICKLY_MS);
    expect((res.body as { code: string }).code).to.equal(code);
    const next = await postJson(infer(), base64Request([red]));
    expect(next.status, `the next request: ${next.text}`).to.equal(200);
    expect(output(next, 'label').data).to.deep.equal(['Cat']);
  }

  describe('data nested without bound', () => {
    for (const depth of [10_000, 100_000]) {
      it(`"data" nested ${depth.toLocaleString('en')} deep: 400 tensor-invalid, quickly`, async () => {
        const element = JSON.stringify(red.toString('base64'));
        const data = `${'['.repeat(depth)}${element}${']'.repeat(depth)}`;
        const body = `{"inputs":[{"name":"image","datatype":"BYTES","shape":[1],"data":${data}}]}`;
        const res = await receiveV2(infer(), { method: 'POST', headers: { 'content-type': 'application/json' }, body });
        await expectRefused(res, 400, 'tensor-invalid');
        expect((res.body as { error: string }).error).to.match(/nested/);
        expectMatchesSpec(svc.api, 'inferModel', res);
      });
    }

    it('rows nested as the shape says are still read', async () => {
      const res = await postJson(infer(), { inputs: [{ name: 'image', datatype: 'BYTES', shape: [1, 1], data: [[red.toString('base64')]] }] });
      expect(res.status, res.text).to.equal(200);
      expect(output(res, 'label').data).to.deep.equal(['Cat']);
    });
  });

  describe('a photo of several megabytes as base64 in V2 JSON', () => {
    let photo: Buffer;
    before(async () => {
      // 3,000 × 2,250, as the issue's: well over the ~3.6 M characters where the old check overflowed.
      photo = await noisyJpeg(3000, 2250);
    });

    it('is accepted as /upload accepts it, with the same answer', async () => {
      const base64 = photo.toString('base64');
      expect(base64.length, 'base64 characters').to.be.above(4_600_000);
      const v2 = await postJson(infer(), base64Request([photo]));
      expect(v2.status, v2.text.slice(0, 300)).to.equal(200);
      const upload = await receive(`${svc.url}/upload`, { method: 'POST', body: uploadForm(photo, 'photo.jpg', 'image/jpeg') });
      expect(upload.status, upload.text).to.equal(200);
      expect(output(v2, 'label').data).to.deep.equal([(upload.body as { prediction: string }).prediction]);
    });

    it('one wrong character in it: 400 tensor-invalid naming the element, quickly', async () => {
      const base64 = photo.toString('base64');
      const spoilt = `${base64.slice(0, 1_000_000)}*${base64.slice(1_000_001)}`;
      const res = await postJson(infer(), imagesHeader([], { inputs: [{ name: 'image', datatype: 'BYTES', shape: [1], data: [spoilt] }] }));
      await expectRefused(res, 400, 'tensor-invalid');
      expect((res.body as { error: string }).error).to.match(/element 0 is not base64/);
    });
  });

  describe('a body that is not what its Content-Encoding says', () => {
    const bodies = (json: string): [string, string, Buffer][] => [
      ['gzip', 'not gzip at all', Buffer.from(json)],
      ['gzip', 'truncated', gzipSync(json).subarray(0, 20)],
      ['deflate', 'not deflate', Buffer.from(json)],
      ['br', 'not brotli', Buffer.from('\xff\xff\xff\xff garbage')],
    ];

    for (const [encoding, what, bytes] of bodies(JSON.stringify(base64Request([Buffer.from('x')])))) {
      it(`V2 JSON, Content-Encoding ${encoding}, ${what}: 400 bad-request naming the encoding`, async () => {
        const res = await receiveV2(infer(), { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': encoding }, body: bytes });
        await expectRefused(res, 400, 'bad-request');
        expect((res.body as { error: string }).error).to.include(encoding);
        expectMatchesSpec(svc.api, 'inferModel', res);
      });
    }

    it('V2 binary, Content-Encoding gzip, truncated: 400 bad-request naming the encoding', async () => {
      const header = JSON.stringify(imagesHeader([red]));
      const body = gzipSync(Buffer.concat([Buffer.from(header), Buffer.alloc(4 + red.length)])).subarray(0, 30);
      const res = await receiveV2(infer(), {
        method: 'POST',
        headers: { 'inference-header-content-length': String(header.length), 'content-type': 'application/octet-stream', 'content-encoding': 'gzip' },
        body,
      });
      await expectRefused(res, 400, 'bad-request');
      expect((res.body as { error: string }).error).to.include('gzip');
    });

    it('the management API, Content-Encoding gzip, not gzip: 400 bad-request naming the encoding', async () => {
      const res = await receiveV2(`${svc.url}/v2/repository/index`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
        body: '{"ready": true}',
      });
      await expectRefused(res, 400, 'bad-request');
      expect((res.body as { error: string }).error).to.include('gzip');
      expectMatchesSpec(svc.api, 'repositoryIndex', res);
    });
  });
});
