/**
 * The page's Monitoring view (issue 26, item 4) in headless Chromium (Debian's, driven by
 * playwright-core), against the service with the real default model and a real capture store:
 * after only dog photos and one feedback label, the view opened from the keyboard shows, for
 * version 1, the answers per label, the confidence histogram, the accuracy and the drift over its
 * threshold, with the numbers of `GET /v2/repository/models/catdog/evidence`; it follows new
 * answers while open; axe-core finds no WCAG 2.2 A/AA violation; it fits 360 pixels. The
 * screenshot is docs/monitoring.png's source (`dist/screenshots/monitoring.png`).
 *
 * Skipped, saying why, without Chromium or without the labelled photos (`TRAIN_DATA`).
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { AxeBuilder } from '@axe-core/playwright';
import { expect } from 'chai';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createCaptureService, type CaptureService } from '../../src/capture/service.js';
import { createLogger } from '../../src/log.js';
import { rootDir } from '../../src/spec.js';
import { readLabelledFolder } from '../../tools/evaluate.js';
import { uploadForm } from '../fixtures/images.js';
import { receive } from '../support/contract.js';
import { need } from '../support/external.js';
import { defaultModelManifest, startService, type RunningService } from '../support/service.js';
import { waitFor } from '../support/wait.js';

/* The browser globals the functions run in the page use (this file has Node's types, not the DOM's). */
declare const document: {
  readonly activeElement: { innerText?: string; blur(): void } | null;
  readonly documentElement: { readonly scrollWidth: number };
};
declare const window: { readonly innerWidth: number };
interface PageNode {
  getAttribute(name: string): string | null;
  getBoundingClientRect(): { readonly left: number; readonly right: number };
}
declare function getComputedStyle(node: PageNode, pseudo: string): { readonly content: string };

const executable = process.env.CHROMIUM ?? '/usr/bin/chromium';
const builtPage = path.join(rootDir, 'dist', 'web');
const screenshots = path.join(rootDir, 'dist', 'screenshots');
const wait = { timeout: 60_000 };
const decimal = new Intl.NumberFormat('en', { maximumFractionDigits: 3 });

interface Evidence {
  versions: {
    version: string;
    answers: Record<string, number>;
    confidence: { count: number; low: number };
    feedback: { correct: number; incorrect: number; accuracy: number | null };
    drift: { psi: number | null; alert_psi: number };
  }[];
}

describe('the Monitoring view in a browser (issue 26, item 4)', function () {
  this.timeout(300_000);
  let svc: RunningService;
  let capture: CaptureService;
  let dir: string;
  let browser: Browser;
  let page: Page;
  let dogs: string[];
  const errors: string[] = [];
  const outside: string[] = [];

  before(async function () {
    if (!existsSync(executable)) {
      console.log(`      (skipped: no Chromium at ${executable}; apt-get install chromium, or set CHROMIUM)`);
      this.skip();
    }
    dogs = (await readLabelledFolder(need(this, 'photos'))).filter((p) => p.label.toLowerCase() === 'dog').map((p) => p.file);
    expect(existsSync(path.join(builtPage, 'index.html')), `${builtPage}/index.html (make web)`).to.equal(true);
    dir = await mkdtemp(path.join(os.tmpdir(), 'cdo-monitoring-'));
    capture = createCaptureService({ sampleRate: 1, dir, maxBytes: 256 * 1024 * 1024, maxAgeMs: 86_400_000, queueBytes: 32 * 1024 * 1024, baseUrl: undefined },
      createLogger(process.env.TEST_LOG_LEVEL ?? 'silent'));
    await capture.started;
    svc = await startService({ model: { manifestPath: defaultModelManifest }, page: { dir: builtPage }, captures: capture, evidence: { windowAnswers: 40, lowConfidence: 0.6 } });
    // Only dogs, then one feedback label confirming an answer.
    let last = '';
    for (const file of dogs) {
      const res = await receive(`${svc.url}/upload`, { method: 'POST', body: uploadForm(await readFile(file), path.basename(file)) });
      expect(res.status, res.text).to.equal(200);
      last = (res.body as { id: string }).id;
    }
    await waitFor(async () => (await receive(`${svc.url}/captures/${last}`)).status === 200, 'the last capture');
    const labelled = await receive(`${svc.url}/feedback`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: last, label: 'Dog' }) });
    expect(labelled.status, labelled.text).to.equal(204);

    browser = await chromium.launch({ executablePath: executable, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'] });
    const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
    await context.route('**/*', (route) => {
      const url = new URL(route.request().url());
      if (url.origin === svc.url || url.protocol === 'data:' || url.protocol === 'blob:') return route.continue();
      outside.push(url.href);
      return route.abort();
    });
    page = await context.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(`uncaught: ${e.message}`));
    await mkdir(screenshots, { recursive: true });
  });
  after(async () => {
    await browser?.close();
    await svc?.close();
    await capture?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const evidence = async (): Promise<Evidence['versions'][number]> =>
    ((await receive(`${svc.url}/v2/repository/models/catdog/evidence`)).body as Evidence).versions[0]!;

  it('offers Monitoring, which opens from the keyboard', async () => {
    await page.goto(`${svc.url}/`);
    const toggle = page.getByRole('button', { name: 'Monitoring' });
    await toggle.waitFor({ state: 'visible', ...wait });
    expect(await toggle.getAttribute('aria-expanded')).to.equal('false');
    await page.evaluate(() => document.activeElement?.blur());
    let focused = '';
    for (let i = 0; i < 10 && focused !== 'Monitoring'; i++) {
      await page.keyboard.press('Tab');
      focused = await page.evaluate(() => document.activeElement?.innerText ?? '');
    }
    expect(focused).to.equal('Monitoring');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Version 1' }).waitFor(wait);
    expect(await toggle.getAttribute('aria-expanded')).to.equal('true');
  });

  it('shows the answers per label, confidence, accuracy and the drift over its threshold, as the API gives them', async () => {
    const e = await evidence();
    const version = page.getByRole('region', { name: 'Version 1' });
    expect(await version.locator('.legend li').allInnerTexts()).to.deep.equal(['Cat', 'Dog', 'Other'].map((l) => `${l}: ${e.answers[l]}`));
    expect(e.answers.Dog).to.be.at.least(dogs.length - 1);
    const charts = version.locator('svg[role="img"]');
    expect(await charts.count(), 'answers over time, confidence, accuracy, drift, window/reference, agreement').to.equal(6);
    const labels = await charts.evaluateAll((nodes: PageNode[]) => nodes.map((n) => n.getAttribute('aria-label') ?? ''));
    expect(labels[0]).to.match(/^Answers per label per minute/);
    expect(labels[1]).to.match(/^Answers by confidence \(top probability\), up to 0\.4: \d+/);
    expect(labels[2]).to.equal(`Accuracy ${e.feedback.accuracy === 1 ? '100%' : ''}`);
    expect(e.drift.psi).to.be.greaterThan(e.drift.alert_psi);
    expect(labels[3]).to.equal(`Drift (PSI) ${decimal.format(e.drift.psi!)}, over the alert threshold 0.25`);
    expect(labels[4]).to.match(/^Share of each label in the window, beside the training reference: Cat 0% \(training 34\.1%\), Dog 100% \(training 37\.6%\)/);
    expect(await version.innerText()).to.contain(`${e.feedback.correct} of ${e.feedback.correct + e.feedback.incorrect} label${e.feedback.correct + e.feedback.incorrect === 1 ? '' : 's'} confirmed the answer`)
      .and.to.contain(`${e.confidence.low} of ${e.confidence.count} answers under 0.6`)
      .and.to.contain('over the alert threshold 0.25')
      .and.to.contain('No shadow traffic for this version.');
    expect(await page.getByRole('heading', { name: 'Version 1' }).evaluate((h: PageNode) => getComputedStyle(h, '::after').content)).to.equal('" · drifting"');
    await page.screenshot({ path: path.join(screenshots, 'monitoring.png'), fullPage: true });
  });

  it('follows new answers while open', async () => {
    const before = (await evidence()).answers.Dog!;
    const res = await receive(`${svc.url}/upload`, { method: 'POST', body: uploadForm(await readFile(dogs[0]!), 'dog.png') });
    expect(res.status).to.equal(200);
    await page.getByRole('region', { name: 'Version 1' }).getByText(`Dog: ${before + 1}`).waitFor({ timeout: 20_000 });
  });

  it('meets WCAG 2.2 A and AA as axe-core checks them, and fits a 360-pixel-wide screen', async () => {
    const axe = async (): Promise<string[]> => {
      const results = await new AxeBuilder({ page }).include('#monitoring').withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']).analyze();
      return results.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
    };
    expect(await axe()).to.deep.equal([]);
    await page.setViewportSize({ width: 360, height: 740 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow, 'horizontal overflow in pixels').to.be.at.most(0);
    for (const box of await page.locator('#monitoring svg, #monitoring-toggle').evaluateAll((nodes: PageNode[]) => nodes.map((n) => { const { left, right } = n.getBoundingClientRect(); return { left, right }; }))) {
      expect(box.left).to.be.at.least(0);
      expect(box.right).to.be.at.most(360);
    }
    expect(await axe()).to.deep.equal([]);
    await page.screenshot({ path: path.join(screenshots, 'monitoring-360.png'), fullPage: true });
    await page.setViewportSize({ width: 1100, height: 900 });
  });

  it('closes from the keyboard, and sent nothing elsewhere nor logged an error', async () => {
    await page.getByRole('button', { name: 'Monitoring' }).focus();
    await page.keyboard.press('Enter');
    expect(await page.locator('#monitoring').isHidden()).to.equal(true);
    expect(outside).to.deep.equal([]);
    // This service has no model control (a static repository): the view asked for the traffic once,
    // was refused (409, which the browser logs), says so, and did not ask again.
    expect(await page.locator('.traffic-now').innerText()).to.equal('No traffic controls: Models are not loaded or unloaded through the API on this server (MODEL_CONTROL=none)');
    expect(errors).to.deep.equal(['Failed to load resource: the server responded with a status of 409 (Conflict)']);
  });
});
