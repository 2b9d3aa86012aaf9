/**
 * The Monitoring view, for people whose token carries `manage::models` (or any visitor when the
 * service signs no one in): per loaded version of a model, the answers per label over time, the
 * confidence histogram, the accuracy on feedback, the drift against the training reference, and
 * the agreement with the serving version while a shadow runs — from
 * `GET /v2/repository/models/{name}/evidence` (docs/evidence.md), every 5 s while open.
 *
 * The view offers itself (its button in the header) only once the service has listed the models
 * for the current token; the page calls {@link Monitoring.update} whenever who is signed in may
 * have changed. The traffic controls (canary, shadow, promote, roll back) are monitoring-traffic.ts.
 */
import { h, show } from './dom.js';
import { answersOverTime, confidenceHistogram, driftMeter, seriesClass, shareMeter, windowAgainstReference } from './monitoring-charts.js';
import { createMonitoringApi, mayMonitor, type VersionEvidence } from './monitoring-api.js';
import { createTrafficControls } from './monitoring-traffic.js';

/** How often the open view reads the evidence again, in milliseconds. */
const REFRESH_MS = 5_000;

const percent = new Intl.NumberFormat('en', { style: 'percent', maximumFractionDigits: 1 });
const decimal = new Intl.NumberFormat('en', { maximumFractionDigits: 3 });
const clock = new Intl.DateTimeFormat('en', { hour: '2-digit', minute: '2-digit', second: '2-digit' });

/** The page's elements the view lives in. */
export interface MonitoringElements {
  /** The header's button that opens and closes the view. */
  readonly toggle: HTMLButtonElement;
  /** The section the view draws in. */
  readonly section: HTMLElement;
}

/** See the module comment. */
export interface Monitoring {
  /** Who is signed in may have changed: `allowed` says whether the page may call the service now. */
  update(allowed: boolean): void;
}

/** Builds the view in `elements`; `token` is the page's current access token, if any. */
export function createMonitoring(elements: MonitoringElements, token: () => string | undefined): Monitoring {
  const { toggle, section } = elements;
  const api = createMonitoringApi(token);
  const status = h('p', { class: 'monitoring-status', role: 'status' });
  const chooser = h('select', { id: 'monitoring-model' }) as HTMLSelectElement;
  const chooserLabel = h('label', { for: 'monitoring-model' }, 'Model');
  const refresh = h('button', { type: 'button', class: 'secondary' }, 'Refresh') as HTMLButtonElement;
  const versions = h('div', { class: 'versions' });
  const updated = h('p', { class: 'monitoring-updated' });
  const traffic = createTrafficControls(api, () => void draw());
  section.replaceChildren(
    h('h2', { id: 'monitoring-title' }, 'Monitoring'),
    h('p', { class: 'monitoring-intro' }, 'What each loaded version answers, how often feedback says it was right, and whether its answers drift from training.'),
    h('div', { class: 'monitoring-controls' }, chooserLabel, chooser, refresh),
    status,
    updated,
    traffic.element,
    versions,
  );
  show(section, false);
  show(toggle, false);
  toggle.setAttribute('aria-expanded', 'false');
  toggle.setAttribute('aria-controls', section.id);

  /** The token the models were listed for (`null`: none listed yet). */
  let probedFor: string | undefined | null = null;
  let timer: number | undefined;
  let reading = false;
  /** A reading was asked for while one was under way (a move's answer, say): it runs once that one ends. */
  let again = false;

  const open = (): boolean => !section.hidden;
  const setOpen = (value: boolean): void => {
    show(section, value);
    toggle.setAttribute('aria-expanded', String(value));
    window.clearInterval(timer);
    timer = undefined;
    if (value) {
      void draw();
      timer = window.setInterval(() => void draw(), REFRESH_MS);
    }
  };

  async function draw(): Promise<void> {
    const name = chooser.value;
    if (name === '') return;
    if (reading) {
      again = true;
      return;
    }
    reading = true;
    try {
      const evidence = await api.evidence(name);
      if (chooser.value !== name) return;
      await traffic.draw(name, evidence.versions.map((v) => v.version));
      versions.replaceChildren(...evidence.versions.map((v) => versionCard(v)));
      if (evidence.versions.length === 0) versions.replaceChildren(h('p', {}, `No version of ${name} is loaded.`));
      status.textContent = '';
      updated.textContent = `Updated at ${clock.format(new Date())}; every ${REFRESH_MS / 1000} s while open.`;
    } catch (error) {
      status.textContent = `The evidence cannot be read now: ${error instanceof Error ? error.message : String(error)}.`;
    } finally {
      reading = false;
      if (again) {
        again = false;
        if (open()) void draw();
      }
    }
  }

  async function probe(current: string | undefined): Promise<void> {
    probedFor = current;
    try {
      const models = await api.models();
      if (probedFor !== current) return;
      if (!models.ok || models.names.length === 0) {
        setOpen(false);
        show(toggle, false);
        return;
      }
      const previous = chooser.value;
      chooser.replaceChildren(...models.names.map((n) => h('option', { value: n }, n)));
      chooser.value = models.names.includes(previous) ? previous : models.names.includes('catdog') ? 'catdog' : models.names[0]!;
      show(chooserLabel, models.names.length > 1);
      show(chooser, models.names.length > 1);
      show(toggle, true);
    } catch {
      show(toggle, false);
    }
  }

  toggle.addEventListener('click', () => setOpen(!open()));
  refresh.addEventListener('click', () => void draw());
  chooser.addEventListener('change', () => {
    versions.replaceChildren();
    void draw();
  });

  return {
    update(allowed) {
      const current = token();
      if (!allowed || !mayMonitor(current)) {
        probedFor = null;
        setOpen(false);
        show(toggle, false);
        return;
      }
      if (probedFor !== current) void probe(current);
    },
  };
}

/** A figure: its title, the chart, and the same in words. */
function figure(title: string, chart: SVGElement, ...text: (Node | string)[]): HTMLElement {
  return h('figure', { class: 'monitoring-figure' }, h('figcaption', {}, title), chart, ...text.map((t) => (typeof t === 'string' ? h('p', { class: 'figure-text' }, t) : t)));
}

/** One version's charts. */
function versionCard(v: VersionEvidence): HTMLElement {
  const total = v.confidence.count;
  const legend = h(
    'ul',
    { class: 'legend', 'aria-label': 'Answers per label since the version was loaded' },
    ...v.labels.map((label, i) => h('li', { class: seriesClass(i) }, h('span', { class: 'swatch', 'aria-hidden': 'true' }), `${label}: ${v.answers[label] ?? 0}`)),
  );
  const { feedback, drift } = v;
  const judged = feedback.correct + feedback.incorrect;
  const driftWhy = drift.reference === null
    ? "this version's manifest has no training reference"
    : `fewer than 30 answers in the window (${drift.window_answers})`;
  const driftText = drift.psi === null
    ? `No drift measured: ${driftWhy}.`
    : `PSI ${decimal.format(drift.psi)} over the last ${drift.window_answers} answers (window ${drift.window_size}): ${drift.psi > drift.alert_psi ? 'over' : 'under'} the alert threshold ${drift.alert_psi}.`;
  const figures = [
    figure('Answers per label over time', answersOverTime(v.labels, v.history), legend),
    figure(
      'Confidence',
      confidenceHistogram(v.confidence.buckets, v.confidence.low_threshold),
      `${v.confidence.low} of ${total} answers under ${v.confidence.low_threshold}`
        + (v.confidence.low_share === null ? '.' : `; ${percent.format(v.confidence.low_share)} of the window.`),
    ),
    figure(
      'Accuracy on feedback',
      shareMeter(feedback.accuracy, 'Accuracy'),
      judged === 0
        ? 'No feedback yet: label captured answers (POST /feedback, Label Studio).'
        : `${percent.format(feedback.accuracy ?? 0)}: ${feedback.correct} of ${judged} label${judged === 1 ? '' : 's'} confirmed the answer.`,
    ),
    figure(
      'Drift from training',
      driftMeter(drift.psi, drift.alert_psi, driftWhy),
      ...(drift.reference === null ? [] : [windowAgainstReference(v.labels, drift.window, drift.reference)]),
      driftText,
      ...(drift.reference === null ? [] : ['Solid bars: the share of each label in the window; light bars: in training.']),
    ),
    agreementFigure(v.shadow),
  ];
  const over = drift.psi !== null && drift.psi > drift.alert_psi;
  return h(
    'section',
    { class: over ? 'version drifting' : 'version', 'aria-label': `Version ${v.version}` },
    h('h3', {}, `Version ${v.version}`),
    h('p', { class: 'version-summary' }, `${total} answers`
      + (feedback.accuracy === null ? '' : ` · accuracy ${percent.format(feedback.accuracy)}`)
      + (drift.psi === null ? '' : ` · drift ${decimal.format(drift.psi)}${over ? ' (over the alert threshold)' : ''}`)),
    h('div', { class: 'figures' }, ...figures),
  );
}

/** The agreement with the serving version while this version answers in the shadow. */
function agreementFigure(shadow: VersionEvidence['shadow']): HTMLElement {
  if (shadow === null) return figure('Agreement with the serving version', shareMeter(null, 'Agreement'), 'No shadow traffic for this version.');
  return figure(
    'Agreement with the serving version',
    shareMeter(shadow.agreement, 'Agreement'),
    `Same label as version ${shadow.serving_version} on ${shadow.agreed} of ${shadow.compared} images; `
      + `probabilities differ by ${decimal.format(shadow.mean_difference)} on average.`,
  );
}
