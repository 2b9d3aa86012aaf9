/**
 * The chart of docs/performance.md: throughput and p99 latency against concurrency, one line per server,
 * drawn as SVG and rasterised to PNG with sharp (already a dependency; librsvg draws the SVG).
 */
import sharp from 'sharp';

/** One line of the chart. */
export interface Series {
  readonly name: string;
  readonly colour: string;
  /** Points by concurrency. */
  readonly points: readonly { readonly concurrency: number; readonly rps: number; readonly p99Ms: number }[];
}

const W = 900;
const H = 400;
const PANEL = { w: 360, h: 260, top: 60 };

function escape(text: string): string {
  return text.replace(/[<>&"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Rounds a maximum up to 1, 2 or 5 times a power of ten. */
function niceMax(x: number): number {
  const p = 10 ** Math.floor(Math.log10(x));
  return [1, 2, 5, 10].map((m) => m * p).find((v) => v >= x)!;
}

function panel(
  left: number,
  title: string,
  series: readonly Series[],
  concurrencies: readonly number[],
  value: (p: Series['points'][number]) => number,
  logY: boolean,
  reference?: { readonly label: string; readonly value: number },
): string {
  const values = series.flatMap((s) => s.points.map(value)).concat(reference ? [reference.value] : []);
  const hi = logY ? 10 ** Math.ceil(Math.log10(Math.max(...values))) : niceMax(Math.max(...values) * 1.05);
  const lo = logY ? 10 ** Math.floor(Math.log10(Math.min(...values))) : 0;
  const y = (v: number): number =>
    PANEL.top + PANEL.h - (logY ? Math.log10(v / lo) / Math.log10(hi / lo) : v / hi) * PANEL.h;
  // Concurrencies evenly spaced (1, 4, 16, 64 are already a geometric series).
  const x = (c: number): number =>
    left + (concurrencies.length > 1 ? concurrencies.indexOf(c) / (concurrencies.length - 1) : 0.5) * PANEL.w;
  const ticks = logY
    ? Array.from({ length: Math.round(Math.log10(hi / lo)) + 1 }, (_, i) => lo * 10 ** i)
    : [0, 0.2, 0.4, 0.6, 0.8, 1].map((f) => f * hi);
  const parts = [
    `<text x="${left + PANEL.w / 2}" y="${PANEL.top - 14}" text-anchor="middle" font-size="15" font-weight="bold">${escape(title)}</text>`,
    `<rect x="${left}" y="${PANEL.top}" width="${PANEL.w}" height="${PANEL.h}" fill="none" stroke="#999"/>`,
    ...ticks.map(
      (t) =>
        `<line x1="${left}" x2="${left + PANEL.w}" y1="${y(t)}" y2="${y(t)}" stroke="#e4e4e4"/>` +
        `<text x="${left - 6}" y="${y(t) + 4}" text-anchor="end" font-size="11">${t >= 1 ? Math.round(t) : t}</text>`,
    ),
    ...concurrencies.map(
      (c) => `<text x="${x(c)}" y="${PANEL.top + PANEL.h + 16}" text-anchor="middle" font-size="11">${c}</text>`,
    ),
    `<text x="${left + PANEL.w / 2}" y="${PANEL.top + PANEL.h + 34}" text-anchor="middle" font-size="12">concurrent clients</text>`,
  ];
  if (reference) {
    parts.push(
      `<line x1="${left}" x2="${left + PANEL.w}" y1="${y(reference.value)}" y2="${y(reference.value)}" stroke="#555" stroke-dasharray="6 4"/>`,
      `<text x="${left + 6}" y="${y(reference.value) - 5}" font-size="11" fill="#555">${escape(reference.label)}</text>`,
    );
  }
  for (const s of series) {
    const pts = s.points.map((p) => `${x(p.concurrency)},${y(value(p))}`);
    parts.push(`<polyline points="${pts.join(' ')}" fill="none" stroke="${s.colour}" stroke-width="2.5"/>`);
    parts.push(...pts.map((p) => `<circle cx="${p.split(',')[0]}" cy="${p.split(',')[1]}" r="3.5" fill="${s.colour}"/>`));
  }
  return parts.join('\n');
}

/** Draws the chart and writes it as PNG to `file`. */
export async function drawChart(
  file: string,
  title: string,
  series: readonly Series[],
  bare: { readonly label: string; readonly value: number } | undefined,
): Promise<void> {
  const concurrencies = [...new Set(series.flatMap((s) => s.points.map((p) => p.concurrency)))].sort((a, b) => a - b);
  const legend = series.map(
    (s, i) =>
      `<rect x="${70 + i * 220}" y="${H - 16}" width="14" height="4" fill="${s.colour}"/>` +
      `<text x="${90 + i * 220}" y="${H - 10}" font-size="12">${escape(s.name)}</text>`,
  );
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="DejaVu Sans, Arial, sans-serif">
<rect width="${W}" height="${H}" fill="#fff"/>
<text x="${W / 2}" y="22" text-anchor="middle" font-size="14">${escape(title)}</text>
${panel(70, 'Throughput (requests/s)', series, concurrencies, (p) => p.rps, false, bare)}
${panel(520, 'p99 latency (ms, log scale)', series, concurrencies, (p) => p.p99Ms, true)}
${legend.join('\n')}
</svg>`;
  await sharp(Buffer.from(svg)).png({ compressionLevel: 9, palette: true }).toFile(file);
}
