/**
 * The public routes: the course's health answer, the served spec, the interactive docs, and
 * the problem answers for unknown paths and methods.
 */
import { expect } from 'chai';
import { parse } from 'yaml';
import { buildImagenetLikeModel, imagenetLikeManifest } from '../fixtures/onnx-models.js';
import { expectMatchesSpec, expectProblem, receive } from '../support/contract.js';
import { startService, type RunningService } from '../support/service.js';

describe('public routes', () => {
  let svc: RunningService;
  before(async () => {
    svc = await startService({ model: { bytes: buildImagenetLikeModel(), manifest: imagenetLikeManifest } });
  });
  after(() => svc.close());

  it('GET /health answers exactly {"status":"OK"}', async () => {
    const res = await receive(`${svc.url}/health`);
    expect(res.status).to.equal(200);
    expect(res.text).to.equal('{"status":"OK"}');
    expectMatchesSpec(svc.api, 'getHealth', res);
  });

  it('POST /health answers 405 with Allow: GET', async () => {
    const res = await receive(`${svc.url}/health`, { method: 'POST' });
    expectProblem(res, 405, 'method-not-allowed');
    expect(res.headers.get('allow')).to.contain('GET');
  });

  it('an unknown path answers 404 problem+json', async () => {
    const res = await receive(`${svc.url}/predict`);
    expectProblem(res, 404, 'not-found');
  });

  it('a path under /docs/ that names no asset, even an Object.prototype member, answers 404 problem+json', async () => {
    for (const name of ['constructor', 'toString', '__proto__', 'nothing.js']) {
      const res = await receive(`${svc.url}/docs/${name}`);
      expectProblem(res, 404, 'not-found');
    }
  });

  it('serves the spec as JSON and YAML, the same document', async () => {
    const json = await receive(`${svc.url}/openapi.json`);
    const yaml = await receive(`${svc.url}/openapi.yaml`);
    expect(json.status).to.equal(200);
    expect(yaml.status).to.equal(200);
    expect(yaml.headers.get('content-type')).to.match(/yaml/);
    expect(parse(yaml.text)).to.deep.equal(json.body);
    expect((json.body as { openapi: string }).openapi).to.match(/^3\.1\./);
  });

  it('serves Swagger UI at /docs with its assets from this server only', async () => {
    const page = await receive(`${svc.url}/docs`);
    expect(page.status).to.equal(200);
    expect(page.headers.get('content-type')).to.match(/text\/html/);
    const refs = [...page.text.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(refs).to.have.length.greaterThan(0);
    for (const ref of refs) {
      expect(ref, 'no external asset').to.match(/^\//);
      expect((await receive(`${svc.url}${ref}`)).status, ref).to.equal(200);
    }
    const init = await receive(`${svc.url}/docs/init.js`);
    expect(init.text).to.contain("'/openapi.json'");
  });

  it('serves Redoc at /redoc with its bundle from this server only', async () => {
    const page = await receive(`${svc.url}/redoc`);
    expect(page.status).to.equal(200);
    expect(page.text).to.contain('spec-url="/openapi.json"');
    const refs = [...page.text.matchAll(/src="([^"]+)"/g)].map((m) => m[1]!);
    for (const ref of refs) {
      expect(ref).to.match(/^\//);
      const asset = await receive(`${svc.url}${ref}`);
      expect(asset.status).to.equal(200);
      expect(asset.headers.get('content-type')).to.match(/javascript/);
    }
  });

  it('returns the X-Request-Id it was given, or a new one', async () => {
    const given = await fetch(`${svc.url}/health`, { headers: { 'x-request-id': 'trace-123' } });
    expect(given.headers.get('x-request-id')).to.equal('trace-123');
    const fresh = await fetch(`${svc.url}/health`);
    expect(fresh.headers.get('x-request-id')).to.match(/^[0-9a-f-]{36}$/);
  });
});
