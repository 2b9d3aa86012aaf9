/**
 * Issue 17: what the docs and the served spec give away or allow. Every docs page carries a
 * Content-Security-Policy that forbids framing it, every response `nosniff`; the served spec
 * shows the `make dev` client's secret and token URL only to `make dev` (its issuer), and
 * otherwise the token endpoint of the configured issuer once discovered.
 */
import { expect } from 'chai';
import { buildImagenetLikeModel, imagenetLikeManifest } from '../fixtures/onnx-models.js';
import { receive } from '../support/contract.js';
import { rawExchange } from '../support/raw-http.js';
import { startService, type RunningService, type StartOptions } from '../support/service.js';

const model = { bytes: buildImagenetLikeModel(), manifest: imagenetLikeManifest };
/** The `make dev` issuer, as the committed spec's `x-development` names it. */
const developmentIssuer = 'http://127.0.0.1:9400';

/** A CSP header as directive name → sources. */
function policy(header: string | null): Map<string, string[]> {
  expect(header, 'Content-Security-Policy').to.be.a('string');
  return new Map(header!.split(';').map((d) => d.trim().split(/\s+/)).filter((d) => d[0]).map(([name, ...sources]) => [name!, sources]));
}

interface ServedSpec {
  components: { securitySchemes: Record<string, { type: string; description?: string; flows?: { clientCredentials?: { tokenUrl: string } } }> };
  paths: Record<string, Record<string, { security?: Record<string, string[]>[] }>>;
}

describe('docs and served spec security (issue 17)', () => {
  async function withService(options: Partial<StartOptions>, test: (svc: RunningService) => Promise<void>): Promise<void> {
    const svc = await startService({ model, ...options });
    try {
      await test(svc);
    } finally {
      await svc.close();
    }
  }

  describe('headers', () => {
    let svc: RunningService;
    before(async () => {
      svc = await startService({ model });
    });
    after(() => svc.close());

    it('/docs: a policy with scripts from this server only and no framing, and nosniff', async () => {
      const page = await receive(`${svc.url}/docs`);
      const csp = policy(page.headers.get('content-security-policy'));
      expect(csp.get('frame-ancestors')).to.deep.equal(["'none'"]);
      expect(csp.get('script-src')).to.deep.equal(["'self'"]);
      expect(csp.get('object-src')).to.deep.equal(["'none'"]);
      expect(page.headers.get('x-content-type-options')).to.equal('nosniff');
    });

    it('/redoc and the OAuth2 redirect page: no framing either', async () => {
      for (const path of ['/redoc', '/docs/oauth2-redirect.html']) {
        const page = await receive(`${svc.url}${path}`);
        expect(page.status, path).to.equal(200);
        expect(policy(page.headers.get('content-security-policy')).get('frame-ancestors'), path).to.deep.equal(["'none'"]);
        expect(page.headers.get('x-content-type-options'), path).to.equal('nosniff');
      }
    });

    it('nosniff on the spec, the API, problems and the answers written before routing', async () => {
      for (const path of ['/openapi.json', '/docs/swagger-ui-bundle.js', '/health', '/no-such-path']) {
        expect((await receive(`${svc.url}${path}`)).headers.get('x-content-type-options'), path).to.equal('nosniff');
      }
      const raw = await rawExchange(svc.url, { head: `GET /health HTTP/1.1\r\nHost: x\r\nX-Padding: ${'a'.repeat(20_000)}\r\n\r\n` });
      expect(raw.status).to.equal(431);
      expect(raw.headers.get('x-content-type-options')).to.equal('nosniff');
    });
  });

  describe('served spec', () => {
    const secret = 'prediction-client-secret';

    it('with another issuer whose token endpoint is not known yet: no development secret nor token URL, a bearer token still documented', async () => {
      await withService({ docs: { issuer: 'https://issuer.example.com/', tokenUrl: () => undefined } }, async (svc) => {
        const json = await receive(`${svc.url}/openapi.json`);
        const yaml = await receive(`${svc.url}/openapi.yaml`);
        for (const text of [json.text, yaml.text]) {
          expect(text).to.not.contain(secret);
          // The development token URL (the issuer's address may still appear in an example value).
          expect(text).to.not.contain('127.0.0.1:9400/token');
          expect(text).to.not.contain('x-development');
        }
        const spec = json.body as ServedSpec;
        expect(spec.components.securitySchemes).to.not.have.property('oauth2');
        expect(spec.paths['/upload']!.post!.security).to.deep.equal([{ bearerAuth: ['get::prediction'] }]);
        expect(spec.paths['/metrics']!.get!.security).to.deep.equal([{ bearerAuth: ['get::metrics'] }]);
        // Swagger UI may then fetch from this server only.
        const csp = policy((await receive(`${svc.url}/docs`)).headers.get('content-security-policy'));
        expect(csp.get('connect-src')).to.deep.equal(["'self'"]);
      });
    });

    it('with another issuer once its token endpoint is discovered: that token URL, allowed to Swagger UI, and still no secret', async () => {
      await withService({ docs: { issuer: 'https://issuer.example.com/', tokenUrl: () => 'https://issuer.example.com/oauth/token' } }, async (svc) => {
        const json = await receive(`${svc.url}/openapi.json`);
        expect(json.text).to.not.contain(secret);
        const spec = json.body as ServedSpec;
        expect(spec.components.securitySchemes.oauth2!.flows!.clientCredentials!.tokenUrl).to.equal('https://issuer.example.com/oauth/token');
        expect(spec.paths['/upload']!.post!.security).to.deep.include({ oauth2: ['get::prediction'] });
        const csp = policy((await receive(`${svc.url}/docs`)).headers.get('content-security-policy'));
        expect(csp.get('connect-src')).to.deep.equal(["'self'", 'https://issuer.example.com']);
      });
    });

    it('with auth disabled: no secret', async () => {
      await withService({}, async (svc) => {
        expect((await receive(`${svc.url}/openapi.json`)).text).to.not.contain(secret);
        expect((await receive(`${svc.url}/openapi.yaml`)).text).to.not.contain(secret);
      });
    });

    it('for `make dev` (its issuer): the development client, its secret and token URL, for Swagger UI\'s Authorize', async () => {
      await withService({ docs: { issuer: developmentIssuer, tokenUrl: () => undefined } }, async (svc) => {
        const spec = (await receive(`${svc.url}/openapi.json`)).body as ServedSpec;
        const oauth2 = spec.components.securitySchemes.oauth2!;
        expect(oauth2.description).to.contain('prediction-client').and.to.contain(secret);
        expect(oauth2.flows!.clientCredentials!.tokenUrl).to.equal(`${developmentIssuer}/token`);
        expect(JSON.stringify(spec)).to.not.contain('x-development');
        const csp = policy((await receive(`${svc.url}/docs`)).headers.get('content-security-policy'));
        expect(csp.get('connect-src')).to.deep.equal(["'self'", developmentIssuer]);
      });
    });
  });
});
