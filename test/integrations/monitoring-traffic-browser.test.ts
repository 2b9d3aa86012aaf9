/**
 * The Monitoring view's traffic controls (issue 26, item 4) in headless Chromium (Debian's, driven
 * by playwright-core), against the service on a real model repository of two versions of the
 * fixture model (version 1 pinned and serving, version 2 the candidate), keyboard only:
 *
 * - a canary of 25 % set through the page, after its confirmation, is what
 *   `GET /v2/repository/models/catdog/traffic` then answers; Escape cancels without a change;
 * - the shadow turns on and off;
 * - a share the service refuses shows the problem's detail;
 * - a question asked again before the dialog's close event (Escape, then Enter at once) still acts;
 * - a reading of the traffic under way when a move is made, answered after it, does not undo the
 *   move on the page (nor in the next move, which starts from what the page shows);
 * - promote pins the candidate; roll back unloads the other version;
 * - axe-core finds no WCAG 2.2 A/AA violation, dialog open or not; it fits 360 pixels.
 *
 * The screenshot of the view with a canary and a shadow is docs/monitoring-traffic.png's source
 * (`dist/screenshots/monitoring-traffic.png`).
 *
 * Skipped, saying why, without Chromium.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { AxeBuilder } from '@axe-core/playwright';
import { expect } from 'chai';
import { chromium, type Browser, type Page } from 'playwright-core';
import { rootDir } from '../../src/spec.js';
import { createRepositoryDir, publishVersion, removeRepository } from '../fixtures/model-repository.js';
import { receive } from '../support/contract.js';
import { startRepositoryService, type RepositoryService } from '../support/service.js';
import { waitFor } from '../support/wait.js';

/* The browser globals the functions run in the page use (this file has Node's types, not the DOM's). */
declare const document: {
  readonly activeElement: { readonly id: string; readonly tagName: string; readonly innerText?: string; blur(): void } | null;
  readonly documentElement: { readonly scrollWidth: number };
};
declare const window: { readonly innerWidth: number };

const executable = process.env.CHROMIUM ?? '/usr/bin/chromium';
const builtPage = path.join(rootDir, 'dist', 'web');
const screenshots = path.join(rootDir, 'dist', 'screenshots');
const wait = { timeout: 60_000 };

interface Traffic {
  serving?: string;
  canary: { version: string; percent: number } | null;
  shadow: { version: string } | null;
  active: { canary: boolean; shadow: boolean };
}

describe('the Monitoring view\'s traffic controls in a browser (issue 26, item 4)', function () {
  this.timeout(300_000);
  let root: string;
  let svc: RepositoryService;
  let browser: Browser;
  let page: Page;
  const errors: string[] = [];
  const outside: string[] = [];

  before(async function () {
    if (!existsSync(executable)) {
      console.log(`      (skipped: no Chromium at ${executable}; apt-get install chromium, or set CHROMIUM)`);
      this.skip();
    }
    expect(existsSync(path.join(builtPage, 'index.html')), `${builtPage}/index.html (make web)`).to.equal(true);
    root = await createRepositoryDir();
    await publishVersion(root, 'catdog', '1');
    await publishVersion(root, 'catdog', '2', { labels: ['Dog', 'Cat', 'Other'], golden: [{ colour: 'red', label: 'Dog' }] });
    svc = await startRepositoryService(root, { page: { dir: builtPage } });
    // Version 1 serves (pinned), version 2 (the newest) stays loaded beside it: the candidate.
    const pinned = await receive(`${svc.url}/v2/repository/models/catdog/load`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ parameters: { version: '1' } }) });
    expect(pinned.status, pinned.text).to.equal(200);

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
      // A refused move is an HTTP error the browser logs; the page shows it (checked below).
      if (m.type() === 'error' && !/status of (400|409|422)/.test(m.text())) errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(`uncaught: ${e.message}`));
    await mkdir(screenshots, { recursive: true });
  });
  after(async () => {
    await browser?.close();
    await svc?.close();
    if (root) await removeRepository(root);
  });

  // A failed step says what the page showed (CI prints only the report), then closes a dialog it
  // left open, so that the steps after it start from the view rather than from inside the dialog.
  afterEach(async function () {
    if (this.currentTest?.state !== 'failed' || !page) return;
    const shown = await section().innerText().catch((e: Error) => e.message);
    console.log(`      the Traffic section showed: ${JSON.stringify(shown)}; the focus: ${await focused().catch(() => '?')}`);
    if (await dialog().isVisible()) await page.keyboard.press('Escape');
  });
  const traffic = async (): Promise<Traffic> => {
    const res = await receive(`${svc.url}/v2/repository/models/catdog/traffic`);
    expect(res.status, res.text).to.equal(200);
    return res.body as Traffic;
  };
  /** What has the focus: its text when it is a button, else its id. */
  const focused = (): Promise<string> => page.evaluate(() => {
    const active = document.activeElement;
    return active?.tagName === 'BUTTON' ? (active.innerText ?? '') : (active?.id ?? '');
  });
  /** Presses Tab until `target` (an id or a button's text) has the focus. */
  const tabTo = async (target: string): Promise<void> => {
    for (let i = 0; i < 40; i++) {
      if ((await focused()) === target) return;
      await page.keyboard.press('Tab');
    }
    expect(await focused(), `Tab never reached ${target}`).to.equal(target);
  };
  const section = () => page.getByRole('region', { name: 'Traffic' });
  const outcome = () => section().getByRole('status');
  const dialog = () => page.getByRole('dialog', { name: 'Change the traffic?' });
  /** Confirms the open dialog from the keyboard (its Confirm button has the focus) and waits for the outcome `text`. */
  const confirm = async (question: RegExp, text: RegExp): Promise<void> => {
    await dialog().waitFor({ state: 'visible', ...wait });
    expect(await dialog().innerText()).to.match(question);
    expect(await focused()).to.equal('Confirm');
    await page.keyboard.press('Enter');
    await outcome().filter({ hasText: text }).waitFor(wait);
    expect(await dialog().isVisible()).to.equal(false);
  };

  it('opens from the keyboard and shows the traffic now', async () => {
    await page.goto(`${svc.url}/`);
    await page.getByRole('button', { name: 'Monitoring' }).waitFor({ state: 'visible', ...wait });
    await page.evaluate(() => document.activeElement?.blur());
    await tabTo('Monitoring');
    await page.keyboard.press('Enter');
    await section().getByText('Now version 1 serves; no canary; no shadow.').waitFor(wait);
    expect(await page.locator('#traffic-version option').allInnerTexts()).to.deep.equal(['Version 2']);
  });

  it('sets a canary of 25 % from the keyboard after a confirmation, as GET .../traffic then says; Escape cancels', async () => {
    await tabTo('traffic-version');
    await page.keyboard.press('Tab');
    expect(await focused()).to.equal('traffic-percent');
    await page.keyboard.press('Control+A');
    await page.keyboard.type('25');
    await tabTo('Set canary');
    // Escape: nothing changes, and the focus returns to the button.
    await page.keyboard.press('Enter');
    await dialog().waitFor({ state: 'visible', ...wait });
    await page.keyboard.press('Escape');
    await dialog().waitFor({ state: 'hidden', ...wait });
    expect(await focused()).to.equal('Set canary');
    expect((await traffic()).canary).to.equal(null);

    await page.keyboard.press('Enter');
    await confirm(/Send 25 % of the clients to version 2 of catdog\?/, /Canary set: version 2 answers 25 % of the clients\./);
    expect(await traffic()).to.deep.include({ serving: '1', canary: { version: '2', percent: 25 }, shadow: null, active: { canary: true, shadow: false } });
    await section().getByText('Now version 1 serves; canary version 2 at 25 %; no shadow.').waitFor(wait);
    expect(await focused()).to.equal('Set canary');
  });

  it('turns the shadow on and off, keeping the canary', async () => {
    await tabTo('Shadow on');
    await page.keyboard.press('Enter');
    await confirm(/Let version 2 of catdog classify in the shadow of the serving version\?/, /Shadow on: version 2\./);
    expect(await traffic()).to.deep.include({ canary: { version: '2', percent: 25 }, shadow: { version: '2' }, active: { canary: true, shadow: true } });
    await section().getByText('Now version 1 serves; canary version 2 at 25 %; shadow version 2.').waitFor(wait);
    // The view from its title to the end of Traffic.
    const view = (await page.locator('#monitoring').boundingBox())!;
    const controls = (await section().boundingBox())!;
    await page.screenshot({ path: path.join(screenshots, 'monitoring-traffic.png'), fullPage: true, clip: { x: view.x, y: view.y, width: view.width, height: controls.y + controls.height - view.y + 12 } });

    await tabTo('Shadow off');
    await page.keyboard.press('Enter');
    await confirm(/Stop the shadow of catdog\?/, /Shadow off\./);
    expect(await traffic()).to.deep.include({ canary: { version: '2', percent: 25 }, shadow: null });
  });

  it('shows the problem\'s detail when the service refuses a share', async () => {
    await page.locator('#traffic-percent').focus();
    await page.keyboard.press('Control+A');
    await page.keyboard.type('150');
    await tabTo('Set canary');
    await page.keyboard.press('Enter');
    await dialog().waitFor({ state: 'visible', ...wait });
    await page.keyboard.press('Enter');
    await outcome().filter({ hasText: /^Refused: / }).waitFor(wait);
    const refused = await receive(`${svc.url}/v2/repository/models/catdog/traffic`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ canary: { version: '2', percent: 150 }, shadow: null }) });
    expect(refused.status).to.equal(400);
    const detail = (refused.body as { detail: string }).detail;
    expect(detail).to.be.a('string').and.not.equal('');
    expect(await outcome().innerText()).to.equal(`Refused: ${detail}`);
    expect((await traffic()).canary).to.deep.equal({ version: '2', percent: 25 });
  });

  it('meets WCAG 2.2 A and AA as axe-core checks them, dialog open or not, and fits a 360-pixel-wide screen', async () => {
    const axe = async (): Promise<string[]> => {
      const results = await new AxeBuilder({ page }).include('#monitoring').withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']).analyze();
      return results.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
    };
    expect(await axe()).to.deep.equal([]);
    await page.setViewportSize({ width: 360, height: 740 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow, 'horizontal overflow in pixels').to.be.at.most(0);
    for (const box of await section().locator('button, select, input').evaluateAll((nodes: { getBoundingClientRect(): { left: number; right: number } }[]) => nodes.map((n) => n.getBoundingClientRect()).map(({ left, right }) => ({ left, right })))) {
      expect(box.left).to.be.at.least(0);
      expect(box.right).to.be.at.most(360);
    }
    expect(await axe()).to.deep.equal([]);
    await section().getByRole('button', { name: 'Promote' }).focus();
    await page.keyboard.press('Enter');
    await dialog().waitFor({ state: 'visible', ...wait });
    const box = await dialog().boundingBox();
    expect(box!.x).to.be.at.least(0);
    expect(box!.x + box!.width).to.be.at.most(360);
    expect(await axe()).to.deep.equal([]);
    await page.screenshot({ path: path.join(screenshots, 'monitoring-traffic-360.png') });
    await page.keyboard.press('Escape');
    await dialog().waitFor({ state: 'hidden', ...wait });
    await page.setViewportSize({ width: 1100, height: 900 });
  });

  it('acts on a question asked again at once after a cancel', async () => {
    // Cancelled, then asked again within the same task, as Escape and Enter pressed faster than the
    // page's event loop turns would: the dialog's close event comes after the question is back.
    await page.evaluate(() => {
      const buttons = [...(document as unknown as { querySelectorAll(s: string): Iterable<{ innerText: string; click(): void }> }).querySelectorAll('#monitoring button')];
      const shadowOn = buttons.find((b) => b.innerText === 'Shadow on')!;
      shadowOn.click();
      buttons.find((b) => b.innerText === 'Cancel')!.click();
      shadowOn.click();
    });
    await confirm(/Let version 2 of catdog classify in the shadow of the serving version\?/, /Shadow on: version 2\./);
    expect(await traffic()).to.deep.include({ canary: { version: '2', percent: 25 }, shadow: { version: '2' } });
  });

  it('keeps a move\'s answer over a reading of the traffic that was under way when the move was made', async () => {
    // The page's readings of the traffic are held: each is fetched from the service when the page
    // asks, and answers the page only when released.
    const held: (() => void)[] = [];
    await page.route('**/v2/repository/models/catdog/traffic', async (route) => {
      if (route.request().method() !== 'GET') return route.fallback();
      const response = await route.fetch();
      await new Promise<void>((release) => held.push(release));
      await route.fulfill({ response });
    });
    const reading = async (n: number): Promise<() => void> => {
      await waitFor(() => held.length >= n, `reading ${n} of the traffic`, { timeoutMs: wait.timeout });
      return held[n - 1]!;
    };
    try {
      // A reading asked before the move: it says the canary runs.
      await page.getByRole('button', { name: 'Refresh' }).focus();
      await page.keyboard.press('Enter');
      const before = await reading(1);
      await section().getByRole('button', { name: 'End canary' }).focus();
      await page.keyboard.press('Enter');
      await confirm(/End the canary of catdog\?/, /Canary ended\./);
      expect((await traffic()).canary).to.equal(null);
      // It answers after the move; the view reads again once it is over (reading 2), and it must not
      // have taken the old answer for the traffic now.
      before();
      const after = await reading(2);
      expect(await section().locator('.traffic-now').innerText()).to.equal('Now version 1 serves; no canary; shadow version 2.');
      after();
    } finally {
      await page.unroute('**/v2/repository/models/catdog/traffic');
      for (const release of held) release();
    }
    // So the next move starts from the traffic now: turning the shadow off does not bring the canary back.
    await tabTo('Shadow off');
    await page.keyboard.press('Enter');
    await confirm(/Stop the shadow of catdog\?/, /Shadow off\./);
    expect(await traffic()).to.deep.include({ canary: null, shadow: null });
  });

  it('promotes the candidate (a pin), then rolls back the other version (an unload)', async () => {
    await tabTo('Promote');
    await page.keyboard.press('Enter');
    await confirm(/Promote version 2 of catdog\?/, /Version 2 promoted: it serves everyone\./);
    expect(await traffic()).to.deep.include({ serving: '2', canary: null, shadow: null });
    await section().getByText('Now version 2 serves; no canary; no shadow.').waitFor(wait);
    // The one before the serving version stays loaded: it is the candidate now.
    await page.locator('#traffic-version option', { hasText: 'Version 1' }).waitFor({ state: 'attached', ...wait });
    expect(await page.locator('#traffic-version option').allInnerTexts()).to.deep.equal(['Version 1']);

    await tabTo('Roll back');
    await page.keyboard.press('Enter');
    await confirm(/Roll back version 1 of catdog\?/, /Version 1 rolled back \(unloaded\)\./);
    const index = await receive(`${svc.url}/v2/repository/index`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    const states = Object.fromEntries((index.body as { version: string; state: string }[]).map((e) => [e.version, e.state]));
    expect(states).to.deep.include({ 1: 'UNAVAILABLE', 2: 'READY' });
    await section().getByText('No candidate: only the serving version is loaded.').waitFor(wait);
  });

  it('sent nothing elsewhere nor logged an error', () => {
    expect(outside).to.deep.equal([]);
    expect(errors).to.deep.equal([]);
  });
});
