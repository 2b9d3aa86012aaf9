/**
 * The web page as HTTP serves it (`GET /` and its assets, `make web`'s output) and what
 * `GET /ui/config` tells it, for each way authentication can be set. The page in a browser is
 * test/integrations/page-browser.test.ts.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { uiConfigFor } from '../../src/frontends/course/ui-config.js';
import { pagePolicy } from '../../src/http/page.js';
import { readSpec, rootDir } from '../../src/spec.js';
import { buildImagenetLikeModel, imagenetLikeManifest } from '../fixtures/onnx-models.js';
import { expectMatchesSpec, expectProblem, receive } from '../support/contract.js';
import { startService, type RunningService } from '../support/service.js';

const model = { bytes: buildImagenetLikeModel(), manifest: imagenetLikeManifest };
const built = path.join(rootDir, 'dist', 'web');
const issuer = 'https://issuer.example';

/** Directives of a Content-Security-Policy, by name. */
function directives(policy: string | null): Map<string, string[]> {
  return new Map(
    (policy ?? '').split(';').map((d) => d.trim().split(/\s+/)).filter((d) => d[0]).map(([name, ...values]) => [name!, values]),
  );
}

describe('the web page over HTTP', () => {
  let svc: RunningService;
  before(async function () {
    expect(existsSync(path.join(built, 'index.html')), `${built}/index.html (make web)`).to.equal(true);
    svc = await startService({ model, page: { dir: built, connectOrigins: () => [issuer] } });
  });
  after(() => svc?.close());

  it('GET / is the page, with a strict Content-Security-Policy', async () => {
    const res = await receive(`${svc.url}/`);
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.match(/^text\/html/);
    expect(res.headers.get('cache-control')).to.equal('no-cache');
    const csp = directives(res.headers.get('content-security-policy'));
    expect(csp.get('default-src')).to.deep.equal(["'none'"]);
    expect(csp.get('script-src')).to.deep.equal(["'self'"]);
    expect(csp.get('style-src')).to.deep.equal(["'self'"]);
    expect(csp.get('connect-src')).to.deep.equal(["'self'", issuer]);
    expect(csp.get('frame-ancestors')).to.deep.equal(["'none'"]);
    expect(csp.get('base-uri')).to.deep.equal(["'none'"]);
    expect(csp.get('require-trusted-types-for')).to.deep.equal(["'script'"]);
    expect(res.headers.get('x-content-type-options')).to.equal('nosniff');
    expect(res.headers.get('referrer-policy')).to.equal('no-referrer');
    expect(res.headers.get('x-frame-options')).to.equal('DENY');
    expect(res.headers.get('cross-origin-opener-policy')).to.equal('same-origin');
  });

  it('has no inline script or style, and every asset it names is served from here, cached for good', async () => {
    const { text } = await receive(`${svc.url}/`);
    expect(text).to.not.match(/<script(?![^>]*\bsrc=)[^>]*>/, 'inline <script>');
    expect(text).to.not.match(/<style\b|\sstyle="|\son[a-z]+="/, 'inline style or event handler');
    const refs = [...text.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    const assets = refs.filter((r) => r.startsWith('/assets/'));
    expect(assets).to.have.length(3); // script, styles, icon
    for (const ref of assets) {
      const res = await receive(`${svc.url}${ref}`);
      expect(res.status, ref).to.equal(200);
      expect(res.headers.get('cache-control'), ref).to.equal('public, max-age=31536000, immutable');
      expect(res.headers.get('x-content-type-options'), ref).to.equal('nosniff');
      expect(res.headers.get('content-type'), ref).to.match(
        ref.endsWith('.js') ? /^application\/javascript/ : ref.endsWith('.css') ? /^text\/css/ : /^image\/svg\+xml/,
      );
    }
    for (const ref of refs.filter((r) => !r.startsWith('/assets/'))) expect(ref, 'a link').to.match(/^\/(docs|redoc|openapi\.yaml)$/);
  });

  it('GET /favicon.ico is the page\'s icon, for the browsers that ask on their own (the docs pages among them)', async () => {
    const res = await fetch(`${svc.url}/favicon.ico`);
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.equal('image/png');
    const bytes = Buffer.from(await res.arrayBuffer());
    expect(bytes.subarray(1, 4).toString('latin1')).to.equal('PNG');
  });

  it('HEAD / answers like GET / without a body', async () => {
    const res = await receive(`${svc.url}/`, { method: 'HEAD' });
    expect(res.status).to.equal(200);
    expect(res.text).to.equal('');
    expect(res.headers.get('content-security-policy')).to.contain("frame-ancestors 'none'");
  });

  it('an unknown asset is a 404 problem, and POST / is not the page', async () => {
    expectProblem(await receive(`${svc.url}/assets/app-unknown.js`), 404, 'not-found');
    expectProblem(await receive(`${svc.url}/index.html`), 404, 'not-found');
    const post = await receive(`${svc.url}/`, { method: 'POST' });
    expect(post.status).to.be.oneOf([404, 405]);
    expect(post.headers.get('content-type')).to.match(/^application\/problem\+json/);
  });

  it('without a built page (make web not run) GET / is a 404 problem and the API still answers', async () => {
    const bare = await startService({ model, page: { dir: path.join(rootDir, 'no-such-folder') } });
    try {
      expect(bare.app.pageBuilt).to.equal(false);
      expectProblem(await receive(`${bare.url}/`), 404, 'not-found');
      expect((await receive(`${bare.url}/health`)).status).to.equal(200);
    } finally {
      await bare.close();
    }
  });

  it('connect-src lists each origin once', () => {
    expect(pagePolicy([issuer, issuer, 'https://token.example'])).to.contain(`connect-src 'self' ${issuer} https://token.example;`);
  });
});

describe('GET /ui/config', () => {
  const spec = readSpec();
  const enabled = {
    enabled: true as const,
    issuer: 'https://tenant.example.com/',
    audience: 'https://cat-dog-other/api',
    jwksUri: undefined,
    algorithms: ['RS256'],
    clockToleranceSeconds: 5,
    jwksCooldownMs: 30_000,
    retryBackoffMs: 1_000,
    jwksCacheMaxAgeMs: 600_000,
    jwksStaleIfErrorMs: 3_600_000,
    httpTimeoutMs: 5_000,
    maxTokenAgeSeconds: undefined,
    maxTokenLifetimeSeconds: 86_400,
  };
  const cases = [
    {
      name: 'with a client id: the issuer, the client, the audience and the scopes of the page\'s operations',
      config: uiConfigFor({ ...enabled, uiClientId: 'page' }, spec),
      expected: { auth: { required: true, issuer: enabled.issuer, audience: enabled.audience, client_id: 'page', scope: 'openid get::prediction manage::models' } },
    },
    {
      name: 'without OAUTH2_UI_CLIENT_ID: tokens required, no client to sign in with',
      config: uiConfigFor({ ...enabled, uiClientId: undefined }, spec),
      expected: { auth: { required: true, issuer: enabled.issuer, audience: enabled.audience } },
    },
    {
      name: 'with AUTH_DISABLED=true: no sign-in at all',
      config: uiConfigFor({ enabled: false }, spec),
      expected: { auth: { required: false } },
    },
  ];
  for (const { name, config, expected } of cases) {
    it(name, async () => {
      const svc = await startService({ model, uiConfig: config });
      try {
        const res = await receive(`${svc.url}/ui/config`);
        expect(res.status).to.equal(200);
        expect(res.body).to.deep.equal(expected);
        expectMatchesSpec(svc.api, 'getUiConfig', res);
      } finally {
        await svc.close();
      }
    });
  }
});
