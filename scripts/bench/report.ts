/**
 * What `make bench` makes of its measured points: a round's slices combined, medians over rounds,
 * and ratios taken round by round (both sides measured minutes apart at most), against each peer
 * and against the faster peer of each round. Pure functions of the points, so that tests can feed
 * them figures.
 */
import type { LoadResult } from './load.js';

/** One measured point (one slice of a round, or a whole round's window). */
export interface Point extends Omit<LoadResult, 'errorKinds' | 'imagesPerRequest' | 'versions'> {
  readonly imagesPerRequest?: number;
  readonly round: number;
  /** At the concurrencies the ratios compare, the targets alternate in slices within a round (1…slices). */
  readonly slice?: number;
  readonly target: string;
  readonly errorKinds?: Record<string, number>;
  readonly rssMiB?: number;
  readonly peakRssMiB?: number;
  readonly cpuMsPerRequest?: number;
  /** The server's main thread alone (the event loop; Node services only). */
  readonly mainCpuMsPerRequest?: number;
  /** For the faster-peer points: which peer that was. */
  readonly fasterOf?: string;
}

/** A ratio's median over rounds and its range. */
export interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  /** Rounds it was measured in. */
  readonly rounds: number;
}

/** The target name of the faster peer's points (see {@link withFasterPeer}). */
export const FASTER_PEER = 'faster-peer';

/** Where 12-megapixel JPEGs are measured, and the suffix of their targets. */
export const LARGE = { concurrency: 4, suffix: '-12mp' } as const;

export const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
export const r2 = (x: number): number => Math.round(x * 100) / 100;
const sum = (xs: readonly number[]): number => xs.reduce((a, x) => a + x, 0);

/** A round's figures for one target and concurrency: throughput over the slices' total time, CPU per request over all requests, the slices' median latencies. */
function combine(ps: readonly Point[]): Point {
  if (ps.length === 1) return ps[0]!;
  const ok = sum(ps.map((p) => p.ok));
  const perRequest = (f: (p: Point) => number | null | undefined): number | null => {
    const known = ps.filter((p) => typeof f(p) === 'number');
    return known.length ? r2(sum(known.map((p) => f(p)! * p.ok)) / Math.max(1, sum(known.map((p) => p.ok)))) : null;
  };
  return {
    ...ps[0]!,
    slice: undefined,
    durationS: r2(sum(ps.map((p) => p.durationS))),
    ok,
    errors: sum(ps.map((p) => p.errors)),
    rps: r2(ok / sum(ps.map((p) => p.durationS))),
    p50Ms: median(ps.map((p) => p.p50Ms ?? NaN)),
    p90Ms: median(ps.map((p) => p.p90Ms ?? NaN)),
    p99Ms: median(ps.map((p) => p.p99Ms ?? NaN)),
    maxMs: Math.max(...ps.map((p) => p.maxMs ?? NaN)),
    rssMiB: Math.max(...ps.map((p) => p.rssMiB ?? NaN)),
    cpuMsPerRequest: perRequest((p) => p.cpuMsPerRequest) ?? undefined,
    mainCpuMsPerRequest: perRequest((p) => p.mainCpuMsPerRequest) ?? undefined,
    clientCpuMsPerRequest: perRequest((p) => p.clientCpuMsPerRequest),
  };
}

/** One point per target, round and concurrency: the slices of a round combined. */
export function roundPoints(points: readonly Point[]): Point[] {
  const slicesOf = new Map<string, Point[]>();
  for (const p of points) {
    const key = `${p.target}/${p.round}/${p.concurrency}`;
    slicesOf.set(key, [...(slicesOf.get(key) ?? []), p]);
  }
  return [...slicesOf.values()].map(combine);
}

/**
 * Adds, for each round and concurrency where a peer was measured, a point `faster-peer<suffix>`:
 * the point of whichever of `peers` (target names without the suffix) answered more requests per
 * second in that round, so that "ahead of every peer" is one ratio.
 */
export function withFasterPeer(points: readonly Point[], peers: readonly string[], suffix = ''): Point[] {
  const best = new Map<string, Point>();
  for (const p of points) {
    const peer = peers.find((name) => p.target === `${name}${suffix}`);
    if (peer === undefined) continue;
    const key = `${p.round}/${p.concurrency}`;
    if (!(p.rps <= (best.get(key)?.rps ?? -1))) best.set(key, { ...p, target: `${FASTER_PEER}${suffix}`, fasterOf: peer });
  }
  return [...points, ...best.values()];
}

/** A point's figure; undefined or 0 when it has none. */
export type Figure = (p: Point) => number | null | undefined;

/** `a`'s figure over `b`'s at concurrency `c`, round by round: median and range; undefined when no round has both. */
export function ratio(points: readonly Point[], a: string, b: string, c: number, figureA: Figure, figureB: Figure = figureA): Spread | undefined {
  const rounds = [...new Set(points.map((p) => p.round))].sort((x, y) => x - y);
  const perRound = rounds
    .map((round) => {
      const find = (t: string): Point | undefined => points.find((p) => p.target === t && p.concurrency === c && p.round === round);
      const pa = find(a);
      const pb = find(b);
      const x = pa && figureA(pa);
      const y = pb && figureB(pb);
      return x && y ? x / y : undefined;
    })
    .filter((x): x is number => x !== undefined);
  return perRound.length
    ? { median: r2(median(perRound)), min: r2(Math.min(...perRound)), max: r2(Math.max(...perRound)), rounds: perRound.length }
    : undefined;
}

/** Images per second of a point: requests per second times images per request. */
export const imagesPerS: Figure = (p) => p.rps * (p.imagesPerRequest ?? 1);
export const rps: Figure = (p) => p.rps;
export const p99: Figure = (p) => p.p99Ms;

/** The service's figures over one peer's (or the faster peer's), at each concurrency and on the large JPEGs. */
export interface PeerRatios {
  /** Requests per second, by concurrency. */
  readonly rps: Record<number, Spread | undefined>;
  /** p99 latency, by concurrency. */
  readonly p99: Record<number, Spread | undefined>;
  /** Requests per second on 12-megapixel JPEGs at c=4. */
  readonly largeRps: Spread | undefined;
  readonly largeP99: Spread | undefined;
  /** For the faster peer: how many rounds each peer was the faster, by concurrency (`4`, `16`, `12mp`). */
  readonly fasterRounds?: Record<string, Record<string, number>>;
}

/** `service` against `peer` (a peer's target name or {@link FASTER_PEER}) at `concurrencies`. */
export function peerRatios(points: readonly Point[], service: string, peer: string, concurrencies: readonly number[]): PeerRatios {
  const by = (f: Figure): Record<number, Spread | undefined> =>
    Object.fromEntries(concurrencies.map((c) => [c, ratio(points, service, peer, c, f)]));
  const large = (f: Figure): Spread | undefined => ratio(points, `${service}${LARGE.suffix}`, `${peer}${LARGE.suffix}`, LARGE.concurrency, f);
  const result: PeerRatios = { rps: by(rps), p99: by(p99), largeRps: large(rps), largeP99: large(p99) };
  if (peer !== FASTER_PEER) return result;
  const fasterRounds: Record<string, Record<string, number>> = {};
  for (const p of points) {
    if (!p.fasterOf) continue;
    const key = p.target.endsWith(LARGE.suffix) ? '12mp' : String(p.concurrency);
    const counts = (fasterRounds[key] ??= {});
    counts[p.fasterOf] = (counts[p.fasterOf] ?? 0) + 1;
  }
  return { ...result, fasterRounds };
}

/** A target of issue #23 ("done when"): a ratio's median against a bound. */
export interface Target {
  readonly label: string;
  readonly bound: number;
  /** `min`: the median must reach the bound; `max`: it must not exceed it. */
  readonly kind: 'min' | 'max';
}

/** Whether `spread` meets `target`; undefined when it was not measured. */
export function meets(target: Target, spread: Spread | undefined): boolean | undefined {
  if (!spread) return undefined;
  return target.kind === 'min' ? spread.median >= target.bound : spread.median <= target.bound;
}

/** `1.23 (1.1–1.4)`: the median of the rounds' ratios and their range; `n/a` when not measured. */
export function formatSpread(s: Spread | undefined): string {
  return s ? `${s.median} (${s.min}–${s.max})` : 'n/a';
}
