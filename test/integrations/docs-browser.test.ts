/**
 * The docs as a reader sees them: headless Chromium (Debian's, driven by playwright-core, which
 * never downloads a browser) opens Swagger UI at `/docs`, Redoc at `/redoc` and the static page
 * of `make docs`, and finds every operation of the spec rendered, with no request leaving the
 * machine and no console error (a Content-Security-Policy violation is one). Swagger UI's
 * Authorize obtains a token from a real issuer under its page's policy, and "Try it out" uses
 * it. Screenshots go to `dist/screenshots/`.
 *
 * Skipped, saying why, when Chromium is absent (`apt-get install chromium`; `.ci/run` installs
 * it). `CHROMIUM` names another executable.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { expect } from 'chai';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createSecurityHandlers } from '../../src/auth/security-handler.js';
import { readSpec, rootDir } from '../../src/spec.js';
import { startIdentityProvider } from '../fixtures/identity-provider.js';
import { solidImage } from '../fixtures/images.js';
import { buildImagenetLikeModel, imagenetLikeManifest } from '../fixtures/onnx-models.js';
import { startService, type RunningService } from '../support/service.js';
import { waitFor } from '../support/wait.js';
import { verifierFor } from '../support/verifier.js';

const executable = process.env.CHROMIUM ?? '/usr/bin/chromium';
const staticDocs = path.join(rootDir, 'dist', 'docs', 'index.html');
const screenshots = path.join(rootDir, 'dist', 'screenshots');

/** `METHOD /path` and summary of every operation in the spec. */
const operations = Object.entries(readSpec().paths ?? {}).flatMap(([p, item]) =>
  Object.entries(item as Record<string, { summary?: string; tags?: string[] }>)
    .filter(([method]) => ['get', 'put', 'post', 'delete', 'patch'].includes(method))
    .map(([method, op]) => ({ method: method.toUpperCase(), path: p, summary: op.summary ?? '', tag: op.tags?.[0] ?? '' })),
);

describe('docs in a browser', function () {
  this.timeout(90_000);
  let browser: Browser;
  let svc: RunningService;

  before(async function () {
    if (!existsSync(executable)) {
      console.log(`      (skipped: no Chromium at ${executable}; apt-get install chromium, or set CHROMIUM)`);
      this.skip();
    }
    svc = await startService({ model: { bytes: buildImagenetLikeModel(), manifest: imagenetLikeManifest } });
    browser = await chromium.launch({
      executablePath: executable,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    await mkdir(screenshots, { recursive: true });
  });
  after(async () => {
    await browser?.close();
    await svc?.close();
  });

  /**
   * A page that refuses, and records, every request not to `allowed`, and records console
   * errors and uncaught exceptions (`errors`).
   */
  async function openPage(allowed: (url: URL) => boolean): Promise<{ page: Page; outside: string[]; errors: string[] }> {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const outside: string[] = [];
    const errors: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
    page.on('pageerror', (error) => errors.push(error.message));
    await page.route('**/*', (route) => {
      const url = new URL(route.request().url());
      if (allowed(url) || url.protocol === 'data:' || url.protocol === 'blob:') return route.continue();
      outside.push(url.href);
      return route.abort();
    });
    return { page, outside, errors };
  }
  const ours = (url: URL) => url.origin === svc.url;

  it('Swagger UI at /docs renders every operation', async () => {
    const { page, outside, errors } = await openPage(ours);
    await page.goto(`${svc.url}/docs`);
    await page.waitForSelector('.opblock-summary', { timeout: 30_000 });
    // Runs in the browser; the project's types have no DOM, so the little used of it is spelt out.
    interface Node {
      querySelector(selector: string): { textContent: string | null; getAttribute(name: string): string | null } | null;
    }
    const rendered = await page.$$eval('.opblock-summary', (els: Node[]) =>
      els.map((el) => {
        const method = el.querySelector('.opblock-summary-method')?.textContent ?? '';
        const p = el.querySelector('.opblock-summary-path')?.getAttribute('data-path') ?? '';
        return `${method.trim()} ${p}`;
      }),
    );
    for (const op of operations) expect(rendered, 'Swagger UI operations').to.include(`${op.method} ${op.path}`);
    await page.screenshot({ path: path.join(screenshots, 'swagger-ui.png'), fullPage: false });
    expect(outside, 'requests leaving the machine').to.deep.equal([]);
    expect(errors, 'console errors').to.deep.equal([]);
    await page.close();
  });

  it('Redoc at /redoc renders every operation', async () => {
    const { page, outside, errors } = await openPage(ours);
    await page.goto(`${svc.url}/redoc`);
    await page.waitForSelector('[data-section-id^="operation/"]', { timeout: 30_000 });
    const text = await page.locator('body').innerText();
    for (const op of operations) {
      expect(text, 'Redoc operation summary').to.contain(op.summary);
      expect(text, 'Redoc endpoint').to.match(endpoint(op));
    }
    await page.screenshot({ path: path.join(screenshots, 'redoc.png') });
    expect(outside, 'requests leaving the machine').to.deep.equal([]);
    expect(errors, 'console errors').to.deep.equal([]);
    await page.close();
  });

  it("Swagger UI's Authorize obtains a token from the issuer under the page's policy, and Try it out classifies with it", async () => {
    // The provider reads its CORS list at each request: the service's origin joins it once known.
    const origins: string[] = [];
    const idp = await startIdentityProvider({ corsOrigins: origins });
    const verifier = verifierFor(idp, { jwksCooldownMs: 100, httpTimeoutMs: 2_000 });
    await verifier.warmUp();
    const protectedSvc = await startService({
      model: { bytes: buildImagenetLikeModel(), manifest: imagenetLikeManifest },
      securityHandlers: createSecurityHandlers(readSpec(), { verifier }),
      docs: { issuer: idp.issuer, tokenUrl: () => verifier.tokenEndpoint?.() },
    });
    origins.push(protectedSvc.url);
    const imageFile = path.join(screenshots, 'red.png');
    await writeFile(imageFile, await solidImage('red'));
    const { page, outside, errors } = await openPage((url) => url.origin === protectedSvc.url || url.origin === idp.issuer);
    try {
      await page.goto(`${protectedSvc.url}/docs`);
      await page.waitForSelector('.opblock-summary', { timeout: 30_000 });
      await page.click('button.authorize');
      await page.fill('#client_id_clientCredentials', 'prediction-client');
      await page.fill('#client_secret_clientCredentials', 'prediction-client-secret');
      await page.locator('label[for="get::prediction-clientCredentials-checkbox-oauth2"]').click();
      await page.locator('.modal-ux button.authorize').first().click();
      // Authorized: the flow's button turns into Logout.
      await page.locator('.modal-ux button.authorize', { hasText: 'Logout' }).waitFor({ timeout: 30_000 });
      await page.click('.modal-ux button.btn-done');
      const operation = page.locator('#operations-Prediction-classifyImage');
      await operation.locator('.opblock-summary').click();
      await operation.locator('button.try-out__btn').click();
      await operation.locator('input[type=file]').setInputFiles(imageFile);
      await operation.locator('button.execute').click();
      const status = operation.locator('.live-responses-table tbody .response-col_status').first();
      await status.waitFor({ timeout: 30_000 });
      expect((await status.innerText()).trim()).to.equal('200');
      expect(await operation.locator('.live-responses-table tbody .response-col_description').first().innerText()).to.contain('"prediction": "Cat"');
      await page.screenshot({ path: path.join(screenshots, 'swagger-ui-authorized.png') });
      expect(outside, 'requests leaving the machine').to.deep.equal([]);
      expect(errors, 'console errors').to.deep.equal([]);
    } finally {
      await page.close();
      await protectedSvc.close();
      await idp.close();
    }
  });

  it('the static page of `make docs` renders every operation from the file alone', async () => {
    expect(existsSync(staticDocs), `${staticDocs} (make docs)`).to.equal(true);
    const html = await readFile(staticDocs, 'utf8');
    const external = [...html.matchAll(/<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)="(https?:[^"]*)"/g)].map((m) => m[1]);
    expect(external, 'assets referenced from another host').to.deep.equal([]);
    const { page, outside } = await openPage((url) => url.protocol === 'file:');
    await page.goto(pathToFileURL(staticDocs).href);
    // Redoc 3 (redocly build-docs) shows each tag's operations on the tag's own page.
    let text = '';
    for (const tag of new Set(operations.map((op) => op.tag))) {
      await page.getByRole('link', { name: tag, exact: true }).first().click();
      // Redoc's slug of the tag: lower case, words joined by hyphens ("Open Inference Protocol").
      const slug = tag.toLowerCase().replace(/\s+/g, '-');
      await page.waitForURL((url) => url.hash.endsWith(`/${slug}`), { timeout: 30_000 });
      text += await page.locator('main, body').first().innerText();
      await page.screenshot({ path: path.join(screenshots, `static-docs-${tag.toLowerCase()}.png`) });
    }
    // A long tag page shows its first operations only; the others open from the sidebar.
    for (const op of operations.filter((o) => !endpoint(o).test(text))) {
      // The sidebar shows the operations of the tag last opened only: open the operation's first.
      await page.getByRole('link', { name: op.tag, exact: true }).first().click();
      await page.waitForURL((url) => url.hash.endsWith(`/${op.tag.toLowerCase().replace(/\s+/g, '-')}`), { timeout: 30_000 });
      await page.getByRole('link', { name: new RegExp(`^${op.summary.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`) }).first().click();
      let shown = '';
      await waitFor(async () => endpoint(op).test((shown = await page.locator('main, body').first().innerText())), `${op.method} ${op.path} in the static docs`).catch(() => {});
      text += shown;
    }
    for (const op of operations) expect(text, 'static docs endpoint').to.match(endpoint(op));
    expect(outside, 'requests leaving the file').to.deep.equal([]);
    await page.close();
  });
});

/** Redoc writes the method and the path of an operation one above the other. */
function endpoint(op: { method: string; path: string }): RegExp {
  return new RegExp(`${op.method}\\s+${op.path.replace(/\//g, '\\/')}(?![\\w/])`);
}
