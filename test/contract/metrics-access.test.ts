/**
 * Issue 17: `GET /metrics` tells the Node version, the model's hash and the CPU path, so it needs
 * a token with `get::metrics` by default; METRICS_PUBLIC=true serves it to anyone. The probes
 * stay public either way.
 */
import { expect } from 'chai';
import { createSecurityHandlers } from '../../src/auth/security-handler.js';
import type { AccessTokenVerifier } from '../../src/auth/verifier.js';
import { InvalidToken } from '../../src/errors.js';
import { readSpec } from '../../src/spec.js';
import { buildImagenetLikeModel, imagenetLikeManifest } from '../fixtures/onnx-models.js';
import { expectMatchesSpec, expectProblem, receive } from '../support/contract.js';
import { startService, type RunningService } from '../support/service.js';

/** Accepts the tokens `metrics` (scope get::metrics) and `predict` (get::prediction) only. */
const verifier: AccessTokenVerifier = {
  async verify(token) {
    const scopes = { metrics: ['get::metrics'], predict: ['get::prediction'] }[token];
    if (!scopes) throw new InvalidToken('test', 'The access token is invalid');
    return { claims: {}, scopes: new Set(scopes), subject: 'test-client' };
  },
  async warmUp() {},
};

const model = { bytes: buildImagenetLikeModel(), manifest: imagenetLikeManifest };
const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

describe('access to GET /metrics with auth enabled', () => {
  const securityHandlers = createSecurityHandlers(readSpec(), { verifier });

  describe('METRICS_PUBLIC=true', () => {
    let svc: RunningService;
    before(async () => {
      svc = await startService({ model, securityHandlers, metricsPublic: true });
    });
    after(() => svc.close());

    it('serves the metrics without a token', async () => {
      const res = await receive(`${svc.url}/metrics`);
      expect(res.status).to.equal(200);
      expect(res.text).to.contain('catdog_model_info');
      expectMatchesSpec(svc.api, 'getMetrics', res);
    });

    it('documents what it enforces: the served spec lets /metrics be read without a token', async () => {
      const spec = (await receive(`${svc.url}/openapi.json`)).body as {
        paths: Record<string, { get: { security: Record<string, string[]>[] } }>;
      };
      expect(spec.paths['/metrics']!.get.security).to.deep.include({});
    });
  });

  describe('METRICS_PUBLIC=false (default)', () => {
    let svc: RunningService;
    before(async () => {
      svc = await startService({ model, securityHandlers });
    });
    after(() => svc.close());

    it('answers 401 token-missing without a token', async () => {
      const res = await receive(`${svc.url}/metrics`);
      expectProblem(res, 401, 'token-missing');
      expect(res.headers.get('www-authenticate')).to.match(/^Bearer /);
      expectMatchesSpec(svc.api, 'getMetrics', res);
    });

    it('answers 403 insufficient-scope for a token without get::metrics', async () => {
      const res = await receive(`${svc.url}/metrics`, bearer('predict'));
      expectProblem(res, 403, 'insufficient-scope');
      expectMatchesSpec(svc.api, 'getMetrics', res);
    });

    it('serves the metrics with a get::metrics token', async () => {
      const res = await receive(`${svc.url}/metrics`, bearer('metrics'));
      expect(res.status).to.equal(200);
      expect(res.text).to.contain('catdog_model_info');
    });

    it('counts a refused request under its operation, though it never reached the handler', async () => {
      expectProblem(await receive(`${svc.url}/metrics`), 401, 'token-missing');
      const res = await receive(`${svc.url}/metrics`, bearer('metrics'));
      expect(res.text).to.match(/^catdog_http_requests_total\{[^}]*operation="getMetrics"[^}]*status="401"[^}]*\} [1-9]/m);
    });

    it('documents what it enforces: the served spec requires a token for /metrics', async () => {
      const spec = (await receive(`${svc.url}/openapi.json`)).body as {
        paths: Record<string, { get: { security: Record<string, string[]>[] } }>;
      };
      const security = spec.paths['/metrics']!.get.security;
      expect(security).to.have.length.greaterThan(0);
      expect(security.every((requirement) => Object.keys(requirement).length > 0), JSON.stringify(security)).to.equal(true);
    });

    it('keeps the probes public', async () => {
      expect((await receive(`${svc.url}/health/live`)).status).to.equal(200);
      expect((await receive(`${svc.url}/health/ready`)).status).to.equal(200);
      expect((await receive(`${svc.url}/health`)).status).to.equal(200);
    });
  });
});
