/**
 * What `make bench` prints: the machine and its CPU's int8 flags, the table of medians, the
 * ratios against the bare pipeline, against each peer and the faster peer (at every concurrency
 * and on 12 MP JPEGs), the targets of issue #23, and the variants' ratios when levers are compared.
 */
import { FASTER_PEER, formatSpread, meets, type PeerRatios, type Spread, type Target } from './report.js';

/** A row of the table: one target at one concurrency, medians over rounds. */
export interface SummaryRow {
  readonly target: string;
  readonly concurrency: number;
  readonly rps: number;
  readonly imagesPerS: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly errors: number;
  readonly rssMiB: number;
  readonly cpuMsPerRequest: number;
  readonly mainCpuMsPerRequest: number;
  readonly clientCpuMsPerRequest: number;
}

/** The ratios `main.ts` computes (see there). */
export interface Ratios {
  readonly v2OverUploadRpsC16: Spread | undefined;
  readonly v2x8OverUploadImagesC4: Spread | undefined;
  readonly serviceOverBareRpsC16: Spread | undefined;
  readonly serviceOverBareCpuC16: Spread | undefined;
  readonly serviceOverBareMainCpuC16: Spread | undefined;
  readonly serviceWithClientOverBareCpuC16: Spread | undefined;
  /** By peer name and {@link FASTER_PEER}. */
  readonly peers: Readonly<Record<string, PeerRatios>>;
  readonly variants: Readonly<Record<string, {
    readonly rps: Record<number, Spread | undefined>;
    readonly cpu: Record<number, Spread | undefined>;
    readonly mainCpu: Record<number, Spread | undefined>;
    readonly v2Rps: Spread | undefined;
    readonly v2x8Images: Spread | undefined;
    readonly largeRps: Spread | undefined;
  }>>;
}

/** Issue #23's targets ("done when"), each with the ratio it reads. */
export function issueTargets(ratios: Ratios): { readonly target: Target; readonly spread: Spread | undefined }[] {
  const faster = ratios.peers[FASTER_PEER];
  return [
    { target: { label: 'service ÷ bare, req/s at c=16', kind: 'min', bound: 0.95 }, spread: ratios.serviceOverBareRpsC16 },
    { target: { label: 'service ÷ bare, server CPU per image at c=16', kind: 'max', bound: 1.05 }, spread: ratios.serviceOverBareCpuC16 },
    { target: { label: 'service ÷ faster peer, req/s at c=4', kind: 'min', bound: 1.3 }, spread: faster?.rps[4] },
    { target: { label: 'service ÷ faster peer, req/s at c=16', kind: 'min', bound: 1.3 }, spread: faster?.rps[16] },
    { target: { label: 'service ÷ faster peer, p99 at c=16', kind: 'max', bound: 0.8 }, spread: faster?.p99[16] },
    { target: { label: 'service ÷ faster peer, req/s on 12 MP JPEGs at c=4', kind: 'min', bound: 3 }, spread: faster?.largeRps },
    { target: { label: 'V2 binary, 1 image ÷ upload, req/s at c=16', kind: 'min', bound: 0.95 }, spread: ratios.v2OverUploadRpsC16 },
    { target: { label: 'V2 binary, 8 images ÷ upload, img/s at c=4', kind: 'min', bound: 1.1 }, spread: ratios.v2x8OverUploadImagesC4 },
  ];
}

/** The ratio table against the peers: one column per peer and one for the faster, one row per figure. */
export function peerTable(peers: Readonly<Record<string, PeerRatios>>, concurrencies: readonly number[]): string[] {
  const names = Object.keys(peers);
  if (names.length === 0) return ['service ÷ peers: n/a (no peer ran)'];
  const bound: Record<string, string> = { 'req/s at c=4': '≥ 1.3', 'req/s at c=16': '≥ 1.3', 'p99 at c=16': '≤ 0.8', 'req/s on 12 MP JPEGs at c=4': '≥ 3' };
  const rows: [string, (r: PeerRatios) => Spread | undefined][] = [
    ...concurrencies.map((c): [string, (r: PeerRatios) => Spread | undefined] => [`req/s at c=${c}`, (r) => r.rps[c]]),
    ...concurrencies.map((c): [string, (r: PeerRatios) => Spread | undefined] => [`p99 at c=${c}`, (r) => r.p99[c]]),
    ['req/s on 12 MP JPEGs at c=4', (r) => r.largeRps],
    ['p99 on 12 MP JPEGs at c=4', (r) => r.largeP99],
  ];
  const header = names.map((n) => (n === FASTER_PEER ? 'faster peer' : n));
  const lines = [
    `| service ÷ … | ${header.join(' | ')} | target (faster peer) |`,
    `| --- | ${names.map(() => '---:').join(' | ')} | --- |`,
    ...rows.map(([label, f]) => `| ${label} | ${names.map((n) => formatSpread(f(peers[n]!))).join(' | ')} | ${bound[label] ?? ''} |`),
  ];
  const rounds = peers[FASTER_PEER]?.fasterRounds;
  if (rounds) {
    const which = Object.entries(rounds).map(([at, counts]) => `${at === '12mp' ? '12 MP' : `c=${at}`}: ${Object.entries(counts).map(([p, n]) => `${p} ×${n}`).join(', ')}`);
    lines.push(`faster peer, rounds won: ${which.join('; ')}`);
  }
  return lines;
}

/** Prints the report on stdout. */
export function printReport(r: {
  readonly describeCpu: string;
  readonly machine: { readonly memoryGiB: number; readonly node: string; readonly loadAverage1mStartEnd: readonly number[] };
  readonly rounds: number;
  readonly durationS: number;
  readonly summary: readonly SummaryRow[];
  readonly ratios: Ratios;
  readonly peerNotes: readonly { readonly name: string; readonly label: string; readonly versions?: string; readonly skipped?: string }[];
  readonly concurrencies: readonly number[];
  readonly serviceErrors: boolean;
  readonly variantNames: readonly string[];
  readonly jsonFile: string;
}): void {
  const cell = (x: string | number | undefined, w: number): string => String(x === undefined || Number.isNaN(x) ? '–' : x).padStart(w);
  const finite = (x: number): number | string => (Number.isFinite(x) ? x : '–');
  const ratios = r.ratios;
  const lines = [
    '',
    `${r.describeCpu}`,
    `${r.machine.memoryGiB} GiB, Node ${r.machine.node}; load average ${r.machine.loadAverage1mStartEnd.join(' → ')}; ${r.rounds} rounds of ${r.durationS} s per point; medians; AUTH_DISABLED=true`,
    ...r.peerNotes.map((p) => `${p.name} (${p.label}): ${p.skipped ? `SKIPPED, ${p.skipped}` : (p.versions ?? 'ran')}`),
    '',
    `| target | c | req/s | img/s | p50 ms | p90 ms | p99 ms | errors | server RSS MiB | server CPU ms/req | its main thread | load generator CPU ms/req |`,
    `| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |`,
    ...r.summary.map(
      (s) =>
        `| ${s.target} | ${s.concurrency} | ${cell(s.rps, 6)} | ${cell(s.imagesPerS, 6)} | ${cell(s.p50Ms, 6)} | ${cell(s.p90Ms, 6)} | ${cell(s.p99Ms, 6)} | ${cell(s.errors, 3)} | ${cell(finite(s.rssMiB), 4)} | ${cell(s.cpuMsPerRequest, 5)} | ${cell(finite(s.mainCpuMsPerRequest), 5)} | ${cell(finite(s.clientCpuMsPerRequest), 5)} |`,
    ),
    '',
    'Ratios: median of the per-round ratios (range over rounds).',
    `service ÷ bare, req/s at c=16:                          ${formatSpread(ratios.serviceOverBareRpsC16)}`,
    `service ÷ bare, CPU per image at c=16, server alone:    ${formatSpread(ratios.serviceOverBareCpuC16)}`,
    `service ÷ bare, CPU per image, server + load generator: ${formatSpread(ratios.serviceWithClientOverBareCpuC16)}   (informative)`,
    `service ÷ bare, main thread's CPU per image:            ${formatSpread(ratios.serviceOverBareMainCpuC16)}   (informative)`,
    '',
    ...peerTable(ratios.peers, r.concurrencies),
    '',
    "Issue #23's targets:",
    ...issueTargets(ratios).map(({ target, spread }) => {
      const met = meets(target, spread);
      return `  ${met ? 'met    ' : met === false ? 'NOT met' : 'n/a    '}  ${target.label} ${target.kind === 'min' ? '≥' : '≤'} ${target.bound}: ${formatSpread(spread)}`;
    }),
    `  ${r.serviceErrors ? 'met    ' : 'NOT met'}  no errors from the service up to c=${Math.max(...r.concurrencies)}`,
  ];
  if (r.variantNames.length) {
    lines.push('', `Variants ÷ the first (${r.concurrencies.map((c) => `c=${c}`).join(', ')}):`);
    for (const name of r.variantNames) {
      const v = ratios.variants[name]!;
      lines.push(
        `  ${name}: req/s ${r.concurrencies.map((c) => formatSpread(v.rps[c])).join(' / ')}; server CPU/req ${r.concurrencies.map((c) => formatSpread(v.cpu[c])).join(' / ')}; main-thread CPU/req ${r.concurrencies.map((c) => formatSpread(v.mainCpu[c])).join(' / ')}; V2 c=16 req/s ${formatSpread(v.v2Rps)}; V2 ×8 c=4 img/s ${formatSpread(v.v2x8Images)}; 12 MP req/s ${formatSpread(v.largeRps)}`,
      );
    }
  }
  lines.push(`raw figures: ${r.jsonFile}`, '');
  process.stdout.write(lines.join('\n'));
}
