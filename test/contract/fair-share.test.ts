/**
 * Issue 22, item 4, in process: each client's rate limit (429 rate-limited, with Retry-After and
 * the RateLimit fields, in each front-end's form), decided before the body is read; and the
 * explanations and uploads that the gates would refuse anyway, refused before the body too. The
 * fair sharing itself is tested on the real process (test/system/fair-share.test.ts) and in the
 * queues' unit tests.
 */
import { expect } from 'chai';
import { multipartBody, solidImage, uploadForm } from '../fixtures/images.js';
import { buildImagenetLikeModel, imagenetLikeManifest } from '../fixtures/onnx-models.js';
import { expectMatchesSpec, expectProblem, receive } from '../support/contract.js';
import { rawExchange, requestHead } from '../support/raw-http.js';
import { startService, type RunningService } from '../support/service.js';
import { bytesTensor, expectV2Problem, imagesHeader, postBinary } from '../support/v2.js';

const model = { bytes: buildImagenetLikeModel(), manifest: imagenetLikeManifest };

/** An upload's head declaring a body of 5 MB that is never sent. */
const uploadHeadWithoutBody = (path = '/upload'): string =>
  requestHead('POST', path, { 'content-type': 'multipart/form-data; boundary=never', 'content-length': 5_000_000 });

/** A whole upload of `image`, as bytes on the wire. */
function wholeUpload(image: Buffer): Buffer {
  const form = multipartBody('B', [{ name: 'file', filename: 'red.png', type: 'image/png', data: image }]);
  return Buffer.concat([Buffer.from(requestHead('POST', '/upload', { 'content-type': 'multipart/form-data; boundary=B', 'content-length': form.length })), form]);
}

describe('rate limits (issue 22, item 4)', () => {
  let svc: RunningService;
  before(async () => {
    svc = await startService({ model, rateLimit: { imagesPerSecond: 1, burstImages: 3 } });
  });
  after(() => svc.close());

  it('answers 429 rate-limited with Retry-After and the draft-10 RateLimit fields once a client has used its images, before reading the body, and serves another client', async () => {
    const image = await solidImage('red');
    // A client whose address is 127.0.0.2 (no token): three images at once, then refused.
    for (let i = 0; i < 3; i++) {
      const ok = await rawExchange(svc.url, { head: wholeUpload(image), localAddress: '127.0.0.2' });
      expect(ok.status, ok.text).to.equal(200);
    }
    // The head alone, declaring 5 MB: answered without them.
    const refused = await rawExchange(svc.url, { head: uploadHeadWithoutBody(), localAddress: '127.0.0.2', timeoutMs: 5_000 });
    expectProblem(refused, 429, 'rate-limited');
    expectMatchesSpec(svc.api, 'classifyImage', refused);
    expect(refused.headers.get('connection'), 'a declared body of an upload\'s size is drained: the connection stays').to.not.equal('close');
    expect(refused.headers.get('retry-after')).to.match(/^[1-9]\d*$/);
    expect(refused.headers.get('ratelimit-policy')).to.equal('"images";q=3;w=3');
    expect(refused.headers.get('ratelimit')).to.match(/^"images";r=0;t=[1-9]\d*$/);
    expect(JSON.parse(refused.text)).to.deep.include({ 'violated-policies': ['images'] });

    // Another address is another client.
    const other = await receive(`${svc.url}/upload`, { method: 'POST', body: uploadForm(image) });
    expect(other.status, other.text).to.equal(200);
  });

  it('counts a V2 batch as its images, and answers 429 in the protocol’s form', async () => {
    const images = await Promise.all((['red', 'green', 'blue'] as const).map((c) => solidImage(c)));
    const url = `${svc.url}/v2/models/catdog/infer`;
    const batch = await postBinary(url, imagesHeader(images), [bytesTensor(images)]);
    expect(batch.status, batch.text).to.equal(200);
    // The batch took the three images of this client (127.0.0.1) on credit: the next request waits.
    const refused = await postBinary(url, imagesHeader(images.slice(0, 1)), [bytesTensor(images.slice(0, 1))]);
    expectV2Problem(refused, 429, 'rate-limited');
    expectMatchesSpec(svc.api, 'inferModel', refused);
    expect(refused.headers.get('ratelimit-policy')).to.equal('"images";q=3;w=3');
  });
});

describe('refusals before the body (issue 22, item 4)', () => {
  it('refuses an explanation its gate has no room for before reading the photo', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const svc = await startService({
      model,
      explain: { maxPasses: 64, admission: { maxInflight: 1, maxQueue: 0, retryAfterSeconds: 2 } },
      beforeExplain: () => held,
    });
    try {
      const first = receive(`${svc.url}/explain`, { method: 'POST', body: uploadForm(await solidImage('red')) });
      while (svc.explanations() === 0) await new Promise((r) => setTimeout(r, 10));
      const refused = await rawExchange(svc.url, { head: uploadHeadWithoutBody('/explain'), timeoutMs: 5_000 });
      expectProblem(refused, 503, 'overloaded');
      expectMatchesSpec(svc.api, 'explainImage', refused);
      expect(refused.headers.get('retry-after')).to.equal('2');
      expect(refused.headers.get('connection')).to.not.equal('close');
      release();
      expect((await first).status).to.equal(200);
    } finally {
      release();
      await svc.close();
    }
  });

  it('refuses an upload whose client holds the most of a full queue before reading it, and takes another client’s in the place of its newest', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const svc = await startService({ model, admission: { maxInflight: 1, maxQueue: 2, retryAfterSeconds: 1 }, beforeClassify: () => held });
    try {
      const image = await solidImage('red');
      // 127.0.0.1: one running, two waiting; the queue is full.
      const mine = [0, 1, 2].map(() => receive(`${svc.url}/upload`, { method: 'POST', body: uploadForm(image) }));
      while (svc.app.core.admission.queued < 2) await new Promise((r) => setTimeout(r, 10));
      const refused = await rawExchange(svc.url, { head: uploadHeadWithoutBody(), timeoutMs: 5_000 });
      expectProblem(refused, 503, 'overloaded');
      expectMatchesSpec(svc.api, 'classifyImage', refused);
      expect(refused.headers.get('connection')).to.not.equal('close');
      // 127.0.0.2 holds none: its upload takes the place of 127.0.0.1's newest, which is refused.
      const other = rawExchange(svc.url, { head: wholeUpload(image), localAddress: '127.0.0.2' });
      expect((await mine[2]!).status).to.equal(503);
      release();
      expect(await Promise.all([mine[0]!, mine[1]!, other].map(async (r) => (await r).status))).to.deep.equal([200, 200, 200]);
    } finally {
      release();
      await svc.close();
    }
  });
});
