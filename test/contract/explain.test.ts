/**
 * POST /explain over real HTTP with a fixture model: the answer as JSON and as PNG against the
 * spec, content negotiation, the pass budget, every bad input of /upload, authorisation, and the
 * bounds that keep explanations from starving uploads. Whether the heatmap points at the object
 * is checked with the real model in test/model/explain-heatmap.test.ts.
 */
import { expect } from 'chai';
import sharp from 'sharp';
import { createSecurityHandlers } from '../../src/auth/security-handler.js';
import { readSpec } from '../../src/spec.js';
import { startIdentityProvider } from '../fixtures/identity-provider.js';
import { multipartBody, pngDeclaring, solidImage, uploadForm } from '../fixtures/images.js';
import { buildImagenetLikeModel, imagenetLikeManifest } from '../fixtures/onnx-models.js';
import { expectMatchesSpec, expectProblem, receive, type Received } from '../support/contract.js';
import { startService, type RunningService } from '../support/service.js';
import { verifierFor } from '../support/verifier.js';

const model = { bytes: buildImagenetLikeModel(), manifest: imagenetLikeManifest };

interface ExplanationBody {
  prediction: string;
  values: number[];
  labels: string[];
  model: string;
  model_version: string;
  passes: number;
  heatmap: { label: string; rows: number; cols: number; values: number[][]; region: Record<string, number> };
}

describe('POST /explain', () => {
  let svc: RunningService;
  before(async () => {
    svc = await startService({ model, maxUploadBytes: 256 * 1024, maxImagePixels: 10_000_000 });
  });
  after(() => svc.close());

  const explain = (form: FormData, headers: Record<string, string> = {}): Promise<Received> =>
    receive(`${svc.url}/explain`, { method: 'POST', body: form, headers });

  it('answers the classification of /upload with a 7 × 7 heatmap of 50 passes, as the spec says', async () => {
    const image = await solidImage('red', 'png', 96);
    const res = await explain(uploadForm(image));
    expect(res.status, res.text).to.equal(200);
    expect(res.headers.get('content-type')).to.match(/^application\/json/);
    expect(res.headers.get('vary')).to.match(/accept/i);
    expectMatchesSpec(svc.api, 'explainImage', res);
    const body = res.body as ExplanationBody;
    const upload = (await receive(`${svc.url}/upload`, { method: 'POST', body: uploadForm(image) })).body as ExplanationBody;
    expect(body.prediction).to.equal(upload.prediction);
    expect(body.values).to.deep.equal(upload.values);
    expect(body.model).to.equal(upload.model);
    expect(body.model_version).to.equal('1');
    expect(body.passes).to.equal(50);
    expect(body.heatmap.label).to.equal(body.prediction);
    expect([body.heatmap.rows, body.heatmap.cols]).to.deep.equal([7, 7]);
    expect(body.heatmap.values).to.have.length(7);
    for (const row of body.heatmap.values) expect(row).to.have.length(7);
    // A square photo under a square input: the grid covers all of it.
    expect(body.heatmap.region).to.deep.equal({ left: 0, top: 0, width: 1, height: 1 });
  });

  it('says where the grid lies on a wide photo: all of it for a model that stretches (fill)', async () => {
    // The default model crops (cover): test/model/explain-heatmap.test.ts.
    const wide = await sharp({ create: { width: 300, height: 100, channels: 3, background: '#e61414' } }).png().toBuffer();
    const body = (await explain(uploadForm(wide))).body as ExplanationBody;
    expect(body.heatmap.region).to.deep.equal({ left: 0, top: 0, width: 1, height: 1 });
  });

  it('answers the photo with the heatmap over it as PNG for Accept: image/png', async () => {
    const res = await fetch(`${svc.url}/explain`, {
      method: 'POST',
      body: uploadForm(await solidImage('green', 'jpeg', 120)),
      headers: { accept: 'image/png' },
    });
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.equal('image/png');
    const meta = await sharp(Buffer.from(await res.arrayBuffer())).metadata();
    expect([meta.format, meta.width, meta.height]).to.deep.equal(['png', 120, 120]);
  });

  it('negotiates: */* and no Accept give JSON, image/* gives PNG, image/jpeg alone gets 406', async () => {
    expect((await explain(uploadForm(await solidImage('blue')), { accept: '*/*' })).headers.get('content-type')).to.match(/json/);
    expect((await explain(uploadForm(await solidImage('blue')))).headers.get('content-type')).to.match(/json/);
    expect((await explain(uploadForm(await solidImage('blue')), { accept: 'image/*' })).headers.get('content-type')).to.equal('image/png');
    const before = svc.explanations();
    const res = await explain(uploadForm(await solidImage('blue')), { accept: 'image/jpeg' });
    expectProblem(res, 406, 'not-acceptable');
    expectMatchesSpec(svc.api, 'explainImage', res);
    expect((res.body as { detail: string }).detail).to.contain('application/json or image/png');
    expect(svc.explanations(), 'no work for an answer nobody can read').to.equal(before);
  });

  describe('refuses what /upload refuses, with the same problems', () => {
    const cases: { name: string; status: number; code: string; send: () => Promise<Received> }[] = [
      { name: 'no file part', status: 400, code: 'validation-failed', send: () => {
        const form = new FormData();
        form.append('note', 'no image here');
        return explain(form);
      } },
      { name: 'two file parts', status: 400, code: 'validation-failed', send: async () => {
        const form = uploadForm(await solidImage('red'));
        form.append('file', new Blob([await solidImage('blue')]), 'b.png');
        return explain(form);
      } },
      { name: 'a multipart body that never closes', status: 400, code: 'bad-request', send: () =>
        receive(`${svc.url}/explain`, {
          method: 'POST',
          headers: { 'content-type': 'multipart/form-data; boundary=xyz' },
          body: Buffer.from('--xyz\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\nabc'),
        }) },
      { name: 'a JSON body', status: 415, code: 'unsupported-media-type', send: () =>
        receive(`${svc.url}/explain`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"file":"x"}' }) },
      { name: 'a text file', status: 422, code: 'image-undecodable', send: () => explain(uploadForm(Buffer.from('not pixels'), 'a.txt', 'text/plain')) },
      { name: 'a truncated PNG', status: 422, code: 'image-undecodable', send: async () => {
        const png = await solidImage('red', 'png', 200);
        return explain(uploadForm(png.subarray(0, Math.floor(png.length / 2))));
      } },
      { name: 'an empty file', status: 422, code: 'image-undecodable', send: () => explain(uploadForm(new Uint8Array())) },
      { name: 'a PNG declaring 50,000 × 50,000 pixels', status: 413, code: 'image-too-large', send: () => explain(uploadForm(pngDeclaring(50_000, 50_000))) },
      { name: 'a file over MAX_UPLOAD_BYTES', status: 413, code: 'payload-too-large', send: () => explain(uploadForm(Buffer.alloc(300 * 1024, 7))) },
      { name: 'GET instead of POST', status: 405, code: 'method-not-allowed', send: () => receive(`${svc.url}/explain`) },
    ];
    for (const { name, status, code, send } of cases) {
      it(`${name}: ${status} ${code}`, async () => {
        const res = await send();
        expectProblem(res, status, code);
        expectMatchesSpec(svc.api, 'explainImage', res);
      });
    }

    it('and keeps serving afterwards, with a hand-built octet-stream part too', async () => {
      const body = multipartBody('B0und', [{ name: 'file', filename: 'x.bin', type: 'application/octet-stream', data: await solidImage('blue') }]);
      const res = await receive(`${svc.url}/explain`, { method: 'POST', headers: { 'content-type': 'multipart/form-data; boundary=B0und' }, body });
      expect(res.status, res.text).to.equal(200);
      expect((res.body as ExplanationBody).prediction).to.equal('Other');
    });
  });
});

describe('POST /explain bounds', () => {
  it('takes a finer grid from a larger EXPLAIN_MAX_PASSES (82 → 9 × 9)', async () => {
    const svc = await startService({ model, explain: { maxPasses: 82, admission: { maxInflight: 1, maxQueue: 4, retryAfterSeconds: 1 } } });
    try {
      const body = (await receive(`${svc.url}/explain`, { method: 'POST', body: uploadForm(await solidImage('red')) })).body as ExplanationBody;
      expect([body.heatmap.rows, body.heatmap.cols, body.passes]).to.deep.equal([9, 9, 82]);
    } finally {
      await svc.close();
    }
  });

  it('refuses an explanation beyond EXPLAIN_MAX_INFLIGHT + EXPLAIN_MAX_QUEUE at once with 503, while uploads go on', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const svc = await startService({
      model,
      explain: { maxPasses: 64, admission: { maxInflight: 1, maxQueue: 0, retryAfterSeconds: 3 } },
      beforeExplain: () => held,
    });
    try {
      const image = await solidImage('red');
      const first = receive(`${svc.url}/explain`, { method: 'POST', body: uploadForm(image) });
      while (svc.explanations() === 0) await new Promise((r) => setTimeout(r, 10));
      const second = await receive(`${svc.url}/explain`, { method: 'POST', body: uploadForm(image) });
      expectProblem(second, 503, 'overloaded');
      expectMatchesSpec(svc.api, 'explainImage', second);
      expect(second.headers.get('retry-after')).to.equal('3');
      const upload = await receive(`${svc.url}/upload`, { method: 'POST', body: uploadForm(image) });
      expect(upload.status, 'an upload while the explanation slot is taken').to.equal(200);
      release();
      expect((await first).status).to.equal(200);
    } finally {
      release();
      await svc.close();
    }
  });
});

describe('POST /explain and the uploads\' bounds', () => {
  it('decodes within the uploads\' admission: with their only slot taken and no queue, 503 at once', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const svc = await startService({
      model,
      admission: { maxInflight: 1, maxQueue: 0, retryAfterSeconds: 2 },
      beforeClassify: () => held,
    });
    try {
      const image = await solidImage('red');
      const upload = receive(`${svc.url}/upload`, { method: 'POST', body: uploadForm(image) });
      while (svc.classifications() === 0) await new Promise((r) => setTimeout(r, 10));
      const res = await receive(`${svc.url}/explain`, { method: 'POST', body: uploadForm(image) });
      expectProblem(res, 503, 'overloaded');
      expectMatchesSpec(svc.api, 'explainImage', res);
      release();
      expect((await upload).status).to.equal(200);
      const after = await receive(`${svc.url}/explain`, { method: 'POST', body: uploadForm(image) });
      expect(after.status, 'once the slot is free').to.equal(200);
    } finally {
      release();
      await svc.close();
    }
  });
});

describe('POST /explain authorisation', () => {
  it('needs a token with get::prediction, like /upload', async () => {
    const idp = await startIdentityProvider();
    const verifier = verifierFor(idp, { jwksUri: idp.jwksUri, algorithms: ['ES256'], jwksCooldownMs: 100, httpTimeoutMs: 2_000 });
    const svc = await startService({ model, securityHandlers: createSecurityHandlers(readSpec(), { verifier }) });
    try {
      const send = async (token?: string): Promise<Received> =>
        receive(`${svc.url}/explain`, {
          method: 'POST',
          body: uploadForm(await solidImage('red')),
          headers: token ? { authorization: `Bearer ${token}` } : {},
        });
      const anonymous = await send();
      expectProblem(anonymous, 401, 'token-missing');
      expectMatchesSpec(svc.api, 'explainImage', anonymous);
      const unscoped = await send(await idp.token('no-scope-client'));
      expectProblem(unscoped, 403, 'insufficient-scope');
      expectMatchesSpec(svc.api, 'explainImage', unscoped);
      expect(svc.explanations(), 'refused before any work').to.equal(0);
      const ok = await send(await idp.token());
      expect(ok.status, ok.text).to.equal(200);
    } finally {
      await svc.close();
      await idp.close();
    }
  });
});
