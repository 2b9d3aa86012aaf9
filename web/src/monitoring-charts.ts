/**
 * The Monitoring view's charts, drawn as plain SVG (no chart library): answers per label over
 * time, the confidence histogram, the drift against its alert threshold with the window's labels
 * beside the training reference's, and a meter for shares (accuracy). Each chart is an image
 * (`role="img"`) whose `aria-label` says what it shows in words; colours come from the
 * stylesheet (`web/monitoring.css`), never from inline styles.
 */

const SVG = 'http://www.w3.org/2000/svg';
/** Drawing area of every chart, in SVG units (scaled to the width available). */
const WIDTH = 320;
const HEIGHT = 150;
const PAD = { left: 34, right: 8, top: 8, bottom: 24 };

const percent = new Intl.NumberFormat('en', { style: 'percent', maximumFractionDigits: 1 });
const decimal = new Intl.NumberFormat('en', { maximumFractionDigits: 3 });
const time = new Intl.DateTimeFormat('en', { hour: '2-digit', minute: '2-digit' });

type Attrs = Readonly<Record<string, string | number>>;

/** An SVG element with attributes (presentation attributes, never `style`) and children. */
function svg(tag: string, attrs: Attrs = {}, ...children: (Node | string)[]): SVGElement {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  node.append(...children);
  return node;
}

/** The chart's root: scalable, an image with `label` as its text. */
function chart(label: string, ...children: SVGElement[]): SVGElement {
  return svg('svg', { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, class: 'chart', role: 'img', 'aria-label': label, preserveAspectRatio: 'xMidYMid meet' }, ...children);
}

/** The class of the `i`-th label's colour (`series-0`…`series-5`, then again). */
export function seriesClass(i: number): string {
  return `series-${i % 6}`;
}

/** A y axis from 0 to `max` with three ticks, formatted by `format`. */
function yAxis(max: number, format: (v: number) => string): SVGElement {
  const inner = HEIGHT - PAD.top - PAD.bottom;
  const ticks = [0, max / 2, max];
  return svg(
    'g',
    { class: 'axis' },
    svg('line', { x1: PAD.left, y1: PAD.top, x2: PAD.left, y2: HEIGHT - PAD.bottom }),
    svg('line', { x1: PAD.left, y1: HEIGHT - PAD.bottom, x2: WIDTH - PAD.right, y2: HEIGHT - PAD.bottom }),
    ...ticks.map((t) => svg('text', { x: PAD.left - 4, y: HEIGHT - PAD.bottom - (t / max) * inner + 4, 'text-anchor': 'end' }, format(t))),
  );
}

const count = (v: number): string => (Number.isInteger(v) ? String(v) : v.toFixed(1));

/** Answers per label per minute: one line per label. */
export function answersOverTime(labels: readonly string[], history: readonly { readonly at: number; readonly answers: Readonly<Record<string, number>> }[]): SVGElement {
  if (history.length === 0) return chart('No answers yet', yAxis(1, count));
  const max = Math.max(1, ...history.flatMap((h) => labels.map((l) => h.answers[l] ?? 0)));
  const first = history[0]!.at;
  const span = Math.max(60_000, history.at(-1)!.at - first);
  const x = (at: number): number => PAD.left + 6 + ((at - first) / span) * (WIDTH - PAD.left - PAD.right - 12);
  const y = (n: number): number => HEIGHT - PAD.bottom - (n / max) * (HEIGHT - PAD.top - PAD.bottom);
  const series = labels.map((label, i) => {
    const points = history.map((h) => [x(h.at), y(h.answers[label] ?? 0)] as const);
    return svg(
      'g',
      { class: `series ${seriesClass(i)}` },
      svg('polyline', { points: points.map(([px, py]) => `${px.toFixed(1)},${py.toFixed(1)}`).join(' '), fill: 'none', 'stroke-width': 2 }),
      ...points.map(([px, py]) => svg('circle', { cx: px.toFixed(1), cy: py.toFixed(1), r: 2.5 })),
    );
  });
  const totals = labels.map((l) => `${l} ${history.reduce((n, h) => n + (h.answers[l] ?? 0), 0)}`).join(', ');
  return chart(
    `Answers per label per minute, ${history.length} minute${history.length === 1 ? '' : 's'} from ${time.format(first)}: ${totals}`,
    yAxis(max, count),
    svg('text', { x: PAD.left, y: HEIGHT - 6, class: 'tick' }, time.format(first)),
    svg('text', { x: WIDTH - PAD.right, y: HEIGHT - 6, class: 'tick', 'text-anchor': 'end' }, time.format(history.at(-1)!.at)),
    ...series,
  );
}

/** The confidence histogram from cumulative buckets; the buckets under `low` drawn apart. */
export function confidenceHistogram(buckets: readonly { readonly le: number; readonly count: number }[], low: number): SVGElement {
  const counts = buckets.map((b, i) => b.count - (i === 0 ? 0 : buckets[i - 1]!.count));
  const max = Math.max(1, ...counts);
  const inner = WIDTH - PAD.left - PAD.right;
  const step = inner / Math.max(1, buckets.length);
  const bars = buckets.map((b, i) => {
    const h = (counts[i]! / max) * (HEIGHT - PAD.top - PAD.bottom);
    const isLow = b.le <= low;
    return svg(
      'g',
      {},
      svg('rect', { x: PAD.left + i * step + 2, y: HEIGHT - PAD.bottom - h, width: step - 4, height: h, class: isLow ? 'bar-low' : 'bar-ok' }),
      svg('text', { x: PAD.left + (i + 0.5) * step, y: HEIGHT - 8, class: 'tick', 'text-anchor': 'middle' }, String(b.le)),
    );
  });
  const described = buckets.map((b, i) => `up to ${b.le}: ${counts[i]}`).join(', ');
  return chart(`Answers by confidence (top probability), ${described}; under ${low} is low confidence`, yAxis(max, count), ...bars);
}

/** The drift: the PSI as a bar against its alert threshold (a line), or why there is none. */
export function driftMeter(psi: number | null, alert: number, reason: string): SVGElement {
  const scale = Math.max(alert * 2, psi ?? 0);
  const inner = WIDTH - PAD.left - PAD.right;
  const x = (v: number): number => PAD.left + (v / scale) * inner;
  const y = 40;
  const over = psi !== null && psi > alert;
  const label = psi === null
    ? `No drift measured: ${reason}`
    : `Drift (PSI) ${decimal.format(psi)}, ${over ? 'over' : 'under'} the alert threshold ${alert}`;
  return svg(
    'svg',
    { viewBox: `0 0 ${WIDTH} 70`, class: 'chart chart-short', role: 'img', 'aria-label': label },
    svg('rect', { x: PAD.left, y, width: inner, height: 14, class: 'track' }),
    ...(psi === null ? [] : [svg('rect', { x: PAD.left, y, width: x(Math.min(psi, scale)) - PAD.left, height: 14, class: over ? 'bar-low' : 'bar-ok' })]),
    svg('line', { x1: x(alert), y1: y - 10, x2: x(alert), y2: y + 22, class: 'threshold' }),
    svg('text', { x: x(alert), y: y - 14, class: 'tick', 'text-anchor': 'middle' }, `alert ${alert}`),
    svg('text', { x: PAD.left, y: 68, class: 'tick' }, '0'),
    svg('text', { x: WIDTH - PAD.right, y: 68, class: 'tick', 'text-anchor': 'end' }, decimal.format(scale)),
  );
}

/** The window's share of each label beside the training reference's (grouped bars). */
export function windowAgainstReference(labels: readonly string[], window: Readonly<Record<string, number>>, reference: Readonly<Record<string, number>>): SVGElement {
  const total = labels.reduce((n, l) => n + (window[l] ?? 0), 0);
  const shares = labels.map((l) => (total === 0 ? 0 : (window[l] ?? 0) / total));
  const inner = WIDTH - PAD.left - PAD.right;
  const step = inner / Math.max(1, labels.length);
  const h = (v: number): number => v * (HEIGHT - PAD.top - PAD.bottom);
  const groups = labels.map((l, i) => {
    const x = PAD.left + i * step;
    return svg(
      'g',
      { class: `series ${seriesClass(i)}` },
      svg('rect', { x: x + 4, y: HEIGHT - PAD.bottom - h(shares[i]!), width: step / 2 - 6, height: h(shares[i]!), class: 'now' }),
      svg('rect', { x: x + step / 2 + 2, y: HEIGHT - PAD.bottom - h(reference[l] ?? 0), width: step / 2 - 6, height: h(reference[l] ?? 0), class: 'reference' }),
      svg('text', { x: x + step / 2, y: HEIGHT - 8, class: 'tick', 'text-anchor': 'middle' }, l),
    );
  });
  const described = labels.map((l, i) => `${l} ${percent.format(shares[i]!)} (training ${percent.format(reference[l] ?? 0)})`).join(', ');
  return chart(`Share of each label in the window, beside the training reference: ${described}`, yAxis(1, (v) => percent.format(v)), ...groups);
}

/** A share from 0 to 1 as a bar (accuracy, agreement), or a track alone when there is none. */
export function shareMeter(value: number | null, label: string): SVGElement {
  const inner = WIDTH - PAD.left - PAD.right;
  return svg(
    'svg',
    { viewBox: `0 0 ${WIDTH} 40`, class: 'chart chart-short', role: 'img', 'aria-label': value === null ? `${label}: none yet` : `${label} ${percent.format(value)}` },
    svg('rect', { x: PAD.left, y: 8, width: inner, height: 14, class: 'track' }),
    ...(value === null ? [] : [svg('rect', { x: PAD.left, y: 8, width: value * inner, height: 14, class: 'bar-ok' })]),
    svg('text', { x: PAD.left, y: 38, class: 'tick' }, '0'),
    svg('text', { x: WIDTH - PAD.right, y: 38, class: 'tick', 'text-anchor': 'end' }, '100%'),
  );
}
