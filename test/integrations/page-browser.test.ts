/**
 * The web page as a person uses it: headless Chromium (Debian's, driven by playwright-core, which
 * never downloads a browser) against `make dev` itself — the real identity provider, the real
 * service with the real default model. One visit, in order: sign in with PKCE at the issuer,
 * drop cat.png and read "Cat" with its percentage, the heatmap over the photo (and over a cat in
 * a corner), paste and pick photos, a text file's readable
 * error, the page on a 360-pixel-wide screen and from the keyboard, WCAG checks (axe-core), and
 * sign-out. Throughout: no request leaves the service's origin except to the issuer, and the
 * console stays free of errors. Screenshots go to `dist/screenshots/` (docs/page.png is one).
 *
 * Skipped, saying why, when Chromium is absent (`apt-get install chromium`; `.ci/run` installs
 * it). `CHROMIUM` names another executable.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { AxeBuilder } from '@axe-core/playwright';
import { expect } from 'chai';
import sharp from 'sharp';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { rootDir } from '../../src/spec.js';
import { catImagePath } from '../fixtures/course-images.js';
import { fetchToken, predictionScope } from '../fixtures/identity-provider.js';
import { solidImage } from '../fixtures/images.js';
import { buildImagenetLikeModel, imagenetLikeManifest } from '../fixtures/onnx-models.js';
import { startDev, type DevServer } from '../support/dev-server.js';
import { startService, type RunningService } from '../support/service.js';

/*
 * The browser globals that the functions run in the page (page.evaluate) use, as far as they use
 * them: this file is compiled with Node's types, not the DOM's, and these declarations stay local
 * to it.
 */
interface PageElement {
  hidden: boolean;
  textContent: string | null;
  innerText?: string;
  blur(): void;
}
interface PageCanvas {
  readonly width: number;
  readonly height: number;
  getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } } | null;
}
declare const document: {
  getElementById(id: string): PageElement | null;
  dispatchEvent(event: ClipboardEvent): boolean;
  readonly activeElement: PageElement | null;
  readonly documentElement: { readonly scrollWidth: number };
  readonly cookie: string;
};
declare const window: { readonly innerWidth: number };
declare function requestAnimationFrame(callback: () => void): number;
declare const localStorage: Record<string, string>;
declare const sessionStorage: Record<string, string>;
declare class DataTransfer {
  readonly items: { add(file: File): void };
}
declare class ClipboardEvent {
  constructor(type: 'paste', init: { clipboardData: DataTransfer; bubbles: boolean; cancelable: boolean });
}

const executable = process.env.CHROMIUM ?? '/usr/bin/chromium';
const screenshots = path.join(rootDir, 'dist', 'screenshots');
const builtPage = path.join(rootDir, 'dist', 'web');
const wait = { timeout: 60_000 };
const percent = new Intl.NumberFormat('en', { style: 'percent', minimumFractionDigits: 1, maximumFractionDigits: 1 });

/** A file as the page receives it. */
interface PageFile {
  readonly name: string;
  readonly mimeType: string;
  readonly buffer: Buffer;
}

async function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: executable,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

/**
 * A page that refuses, and records, every request to an origin other than `allowed`, and records
 * console errors and uncaught exceptions.
 */
async function watchedPage(context: BrowserContext, allowed: readonly string[]): Promise<{ page: Page; outside: string[]; errors: string[] }> {
  const outside: string[] = [];
  const errors: string[] = [];
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (allowed.includes(url.origin) || url.protocol === 'data:' || url.protocol === 'blob:') return route.continue();
    outside.push(url.href);
    return route.abort();
  });
  const page = await context.newPage();
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`${message.text()} (${message.location().url})`);
  });
  page.on('pageerror', (error) => errors.push(`uncaught: ${error.message}`));
  return { page, outside, errors };
}

/** Drops `file` on the page, as a file dragged from the desktop. */
async function drop(page: Page, file: PageFile): Promise<void> {
  const dataTransfer = await page.evaluateHandle(({ name, type, base64 }) => {
    const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    const transfer = new DataTransfer();
    transfer.items.add(new File([bytes], name, { type }));
    return transfer;
  }, { name: file.name, type: file.mimeType, base64: file.buffer.toString('base64') });
  for (const event of ['dragenter', 'dragover', 'drop']) await page.dispatchEvent('#drop', event, { dataTransfer });
}

/** Pastes `file`, as from the clipboard (Ctrl+V). */
async function paste(page: Page, file: PageFile): Promise<void> {
  await page.evaluate(({ name, type, base64 }) => {
    const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    const transfer = new DataTransfer();
    transfer.items.add(new File([bytes], name, { type }));
    document.dispatchEvent(new ClipboardEvent('paste', { clipboardData: transfer, bubbles: true, cancelable: true }));
  }, { name: file.name, type: file.mimeType, base64: file.buffer.toString('base64') });
}

/** Waits for the answer to a new photo and returns the label and its confidence line. */
async function answer(page: Page, previous: string | undefined): Promise<{ label: string; confidence: string; bars: string[] }> {
  await page.waitForFunction(
    (before) => {
      const meta = document.getElementById('meta')?.textContent ?? '';
      return document.getElementById('result')?.hidden === false && meta !== '' && meta !== before;
    },
    previous,
    wait,
  );
  return {
    label: (await page.locator('#label').textContent()) ?? '',
    confidence: (await page.locator('#confidence').textContent()) ?? '',
    bars: await page.locator('#bars li').allInnerTexts(),
  };
}

/** Waits for the heatmap over the photo; returns the canvas cell (column, row) it paints strongest. */
async function overlay(page: Page): Promise<{ column: number; row: number; columns: number; rows: number }> {
  await page.getByText('Red: hiding this part lowers the answer most.').waitFor(wait);
  await page.locator('#heatmap').waitFor({ state: 'visible', ...wait });
  return page.locator('#heatmap').evaluate((canvas: PageCanvas) => {
    const { data } = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height);
    let strongest = 0;
    for (let i = 3; i < data.length; i += 4) if (data[i]! > data[strongest * 4 + 3]!) strongest = (i - 3) / 4;
    return { column: strongest % canvas.width, row: Math.floor(strongest / canvas.width), columns: canvas.width, rows: canvas.height };
  });
}

/** WCAG 2.2 A and AA violations axe-core finds on the page, as `rule: targets`. */
async function accessibilityViolations(page: Page): Promise<string[]> {
  const results = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']).analyze();
  // axe ran and looked at the page: contrast among the rules that passed.
  expect(results.passes.map((r) => r.id)).to.include('color-contrast');
  return results.violations.map((v) => `${v.id} (${v.help}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

/**
 * Waits until the service has found the issuer's keys: on a starved machine its discovery, started
 * during the CPU-bound start-up, can outlast OAUTH2_HTTP_TIMEOUT_MS, and uploads then answer
 * 503 auth-unavailable until OAUTH2_JWKS_COOLDOWN_MS allows another attempt (as a client would
 * retry; prod-smoke does the same).
 */
async function issuerDiscovered(server: DevServer, timeoutMs = 120_000): Promise<void> {
  const token = await fetchToken(`${server.issuer}/token`, 'prediction-client', 'prediction-client-secret', { scope: predictionScope });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const form = new FormData();
    form.append('file', new Blob([await solidImage('red', 'png', 32)]), 'red.png');
    const res = await fetch(`${server.url}/upload`, { method: 'POST', body: form, headers: { authorization: `Bearer ${token}` } });
    const text = await res.text();
    if (res.status !== 503) {
      expect(res.status, text).to.equal(200);
      return;
    }
    if (Date.now() > deadline) throw new Error(`the service still answers 503 after ${timeoutMs} ms: ${text}\n${server.output()}`);
    await new Promise((r) => setTimeout(r, 2_000));
  }
}

describe('the web page in a browser, against make dev', function () {
  this.timeout(300_000);
  let dev: DevServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let outside: string[];
  let errors: string[];
  let cat: PageFile;
  let lastMeta: string | undefined;

  before(async function () {
    if (!existsSync(executable)) {
      console.log(`      (skipped: no Chromium at ${executable}; apt-get install chromium, or set CHROMIUM)`);
      this.skip();
    }
    expect(existsSync(path.join(builtPage, 'index.html')), `${builtPage}/index.html (make web)`).to.equal(true);
    cat = { name: 'cat.png', mimeType: 'image/png', buffer: await readFile(catImagePath) };
    dev = await startDev();
    await issuerDiscovered(dev);
    browser = await launch();
    context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
    ({ page, outside, errors } = await watchedPage(context, [dev.url, dev.issuer]));
    await mkdir(screenshots, { recursive: true });
  });
  after(async () => {
    await browser?.close();
    await dev?.stop();
  });

  it('asks to sign in, and signs in with PKCE at the issuer', async () => {
    await page.goto(`${dev.url}/`);
    await page.getByRole('button', { name: 'Sign in' }).click(wait);
    // The issuer's own page: the authorization request carried a PKCE challenge.
    await page.waitForURL((url) => url.origin === dev.issuer, wait);
    await page.getByLabel('User name').fill('alice');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${dev.url}/`, wait);
    await page.getByText('Signed in as alice').waitFor(wait);
    expect(page.url(), 'the code and state are gone from the address bar').to.equal(`${dev.url}/`);
    expect(await page.getByRole('button', { name: 'Choose a photo' }).isEnabled()).to.equal(true);
    // make dev's issuer grants the page manage::models too: the Monitoring view is offered.
    await page.getByRole('button', { name: 'Monitoring' }).waitFor(wait);
  });

  it('keeps the token in memory only', async () => {
    const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }) + document.cookie);
    expect(stored).to.not.match(/eyJ/, 'no JWT in storage or cookies');
  });

  it('drop cat.png: reads "Cat" and the percentage the API gives', async () => {
    await drop(page, cat);
    const shown = await answer(page, lastMeta);
    lastMeta = (await page.locator('#meta').textContent()) ?? undefined;
    // The same photo through the API with a token of the development issuer's.
    const token = await fetchToken(`${dev.issuer}/token`, 'prediction-client', 'prediction-client-secret', { scope: predictionScope });
    const form = new FormData();
    form.append('file', new Blob([cat.buffer]), 'cat.png');
    const api = (await (await fetch(`${dev.url}/upload`, { method: 'POST', body: form, headers: { authorization: `Bearer ${token}` } })).json()) as {
      prediction: string;
      values: number[];
      labels: string[];
      model: string;
    };
    expect(api.prediction).to.equal('Cat');
    expect(shown.label).to.equal('Cat');
    expect(shown.confidence).to.equal(`${percent.format(api.values[api.labels.indexOf('Cat')]!)} sure`);
    expect(shown.bars).to.deep.equal(api.labels.map((l, i) => `${l}\n${percent.format(api.values[i]!)}`));
    expect(lastMeta).to.match(new RegExp(`^Model ${api.model}.* · answered in \\d+ ms \\(\\d+ ms classifying\\)$`));
    expect(await page.locator('#photo').evaluate((img: { complete: boolean; naturalWidth: number }) => img.complete && img.naturalWidth > 0)).to.equal(true);
  });

  it('lays the heatmap over the part of the photo the model saw, with a toggle', async () => {
    const strongest = await overlay(page);
    expect([strongest.columns, strongest.rows]).to.deep.equal([7, 7]);
    // cat.png is wider than high and the model crops it to a square: the canvas covers the centre.
    const photo = (await page.locator('#photo').boundingBox())!;
    const canvas = (await page.locator('#heatmap').boundingBox())!;
    expect(canvas.height).to.be.closeTo(photo.height, 1.5);
    expect(canvas.width).to.be.closeTo(photo.height, 1.5);
    expect(canvas.x - photo.x).to.be.closeTo((photo.width - photo.height) / 2, 1.5);
    await page.screenshot({ path: path.join(screenshots, 'page.png') });
    const toggle = page.getByLabel('Show where the model looked');
    await toggle.uncheck();
    expect(await page.locator('#heatmap').isHidden()).to.equal(true);
    await toggle.check();
    expect(await page.locator('#heatmap').isVisible()).to.equal(true);
  });

  it('points the heatmap at a cat in a corner of a plain picture', async () => {
    const corner = await sharp({ create: { width: 480, height: 480, channels: 3, background: '#ffffff' } })
      .composite([{ input: await sharp(cat.buffer).resize(200, 200, { fit: 'cover' }).toBuffer(), left: 280, top: 0 }])
      .png()
      .toBuffer();
    await drop(page, { name: 'corner.png', mimeType: 'image/png', buffer: corner });
    await answer(page, lastMeta);
    lastMeta = (await page.locator('#meta').textContent()) ?? undefined;
    const strongest = await overlay(page);
    expect(strongest.row, 'top rows').to.be.below(3);
    expect(strongest.column, 'right columns').to.be.at.least(4);
  });

  it('a pasted photo is classified too', async () => {
    await paste(page, { name: 'red.png', mimeType: 'image/png', buffer: await solidImage('red', 'png', 96) });
    const shown = await answer(page, lastMeta);
    lastMeta = (await page.locator('#meta').textContent()) ?? undefined;
    expect(shown.label).to.be.oneOf(['Cat', 'Dog', 'Other']);
    expect(shown.bars).to.have.length(3);
  });

  it('from the keyboard: Tab reaches "Choose a photo", Enter opens the file picker', async () => {
    // Listening first: Playwright then intercepts the file picker before any key is pressed.
    const chooser = page.waitForEvent('filechooser', wait);
    // From the top of the page, as after loading it.
    await page.evaluate(() => document.activeElement?.blur());
    let focused = '';
    for (let i = 0; i < 10 && focused !== 'Choose a photo'; i++) {
      await page.keyboard.press('Tab');
      focused = await page.evaluate(() => document.activeElement?.innerText ?? '');
    }
    expect(focused).to.equal('Choose a photo');
    await page.keyboard.press('Enter');
    await (await chooser).setFiles({ name: cat.name, mimeType: cat.mimeType, buffer: cat.buffer });
    const shown = await answer(page, lastMeta);
    lastMeta = (await page.locator('#meta').textContent()) ?? undefined;
    expect(shown.label).to.equal('Cat');
  });

  it('a text file gets an error a person can read', async () => {
    const before = errors.length;
    await drop(page, { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('Shopping list: milk, eggs\n') });
    const alert = page.getByRole('alert');
    await alert.waitFor(wait);
    expect(await alert.locator('h2').textContent()).to.equal('This file is not an image');
    expect(await alert.innerText()).to.contain('The file is not a supported image (JPEG, PNG, WebP, GIF, TIFF, AVIF)');
    expect(await page.locator('#result').isHidden()).to.equal(true);
    // Chromium logs every 4xx answer to fetch() in the console; the page itself logs nothing.
    expect(errors.slice(before)).to.deep.equal([
      `Failed to load resource: the server responded with a status of 422 (Unprocessable Entity) (${dev.url}/upload)`,
    ]);
    errors.splice(before);
    await drop(page, cat);
    await answer(page, lastMeta);
    lastMeta = (await page.locator('#meta').textContent()) ?? undefined;
    expect(await alert.isHidden(), 'the error goes with the next answer').to.equal(true);
  });

  it('meets WCAG 2.2 A and AA as axe-core checks them, with an answer shown', async () => {
    expect(await accessibilityViolations(page)).to.deep.equal([]);
  });

  it('fits a 360-pixel-wide screen', async () => {
    await page.setViewportSize({ width: 360, height: 740 });
    // The heatmap follows the photo's new size at the next layout.
    await page.evaluate(() => new Promise<void>((resolve) => requestAnimationFrame(() => requestAnimationFrame(() => resolve()))));
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow, 'horizontal overflow in pixels').to.be.at.most(0);
    for (const selector of ['#pick', '#sign-out', '#bars', '#photo']) {
      const box = await page.locator(selector).boundingBox();
      expect(box, selector).to.not.equal(null);
      expect(box!.x, `${selector} left`).to.be.at.least(0);
      expect(box!.x + box!.width, `${selector} right`).to.be.at.most(360);
    }
    expect(await accessibilityViolations(page)).to.deep.equal([]);
    await page.screenshot({ path: path.join(screenshots, 'page-360.png'), fullPage: true });
    await page.setViewportSize({ width: 1100, height: 900 });
  });

  it('signs out at the issuer and comes back signed out', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL((url) => url.origin === dev.issuer, wait);
    await page.getByRole('button', { name: 'Yes, sign me out' }).click();
    await page.waitForURL(`${dev.url}/`, wait);
    await page.getByRole('button', { name: 'Sign in' }).waitFor(wait);
    expect(await page.getByRole('button', { name: 'Choose a photo' }).isDisabled()).to.equal(true);
    expect(await page.locator('#status').textContent()).to.equal('Sign in to classify photos.');
  });

  it('sent no request outside the service and the issuer, and logged no error', () => {
    expect(outside, 'requests to other origins').to.deep.equal([]);
    expect(errors, 'console errors').to.deep.equal([]);
  });
});

describe('the web page in a browser, with authentication disabled', function () {
  this.timeout(120_000);
  let svc: RunningService;
  let browser: Browser;

  before(async function () {
    if (!existsSync(executable)) this.skip();
    svc = await startService({ model: { bytes: buildImagenetLikeModel(), manifest: imagenetLikeManifest }, page: { dir: builtPage } });
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
    await svc?.close();
  });

  it('offers no sign-in and classifies at once', async () => {
    const context = await browser.newContext();
    const { page, outside, errors } = await watchedPage(context, [svc.url]);
    await page.goto(`${svc.url}/`);
    await page.getByText('Give me a photo').waitFor(wait);
    expect(await page.getByRole('button', { name: 'Sign in' }).isHidden()).to.equal(true);
    await page.setInputFiles('#picker', { name: 'red.png', mimeType: 'image/png', buffer: await solidImage('red', 'png', 64) });
    const shown = await answer(page, undefined);
    expect(imagenetLikeManifest('m.onnx', '0'.repeat(64)).labels).to.include(shown.label);
    expect(outside).to.deep.equal([]);
    expect(errors).to.deep.equal([]);
    await context.close();
  });

  it('on a phone, offers "Take a photo", which opens the camera (capture)', async () => {
    const context = await browser.newContext({ viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true });
    const { page, errors } = await watchedPage(context, [svc.url]);
    await page.goto(`${svc.url}/`);
    const take = page.getByRole('button', { name: 'Take a photo' });
    await take.waitFor({ state: 'visible', ...wait });
    expect(await page.locator('#camera').getAttribute('capture')).to.equal('environment');
    const opened = page.waitForEvent('filechooser', wait);
    await take.tap();
    const chooser = await opened;
    expect(await chooser.element().getAttribute('id')).to.equal('camera');
    await chooser.setFiles({ name: 'photo.jpg', mimeType: 'image/jpeg', buffer: await solidImage('green', 'jpeg', 64) });
    expect((await answer(page, undefined)).bars).to.have.length(3);
    expect(errors).to.deep.equal([]);
    await context.close();
  });
});
