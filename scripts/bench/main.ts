/**
 * `make bench`: in one run, the bare pipeline, the service (compiled, AUTH_DISABLED=true) at
 * each concurrency over loopback, and the FastAPI peer from ../shared/bench when present, each
 * point interleaved round by round (at each concurrency service A, B… then peer) so that the
 * machine's noise hits them alike. At the concurrencies the ratios compare (4 and 16), the targets
 * take turns in slices (bare at c=16, A, B…, peer, then again; each slice duration/slices long)
 * and a round's figures combine its slices. Every server answers 1,000 uploads before the first
 * measured point. Prints a table and the ratios, writes the raw figures as JSON and the chart as PNG.
 *
 * The first service is also measured over the Open Inference Protocol, in the same slices as its
 * uploads: binary requests of one image at c=16 (`<service>-v2`, req/s against the uploads') and
 * of 8 images at c=4 (`<service>-v2x8`, images/s against the uploads').
 *
 * Options: --duration S (per point, default 15), --rounds N (default 2), --slices N (default 3),
 * --concurrency 1,4,16,64,
 * --variant NAME:VAR=VALUE,VAR=VALUE (repeatable: service variants to compare, e.g. levers; the
 * pseudo-variable `entry=PATH` runs another build's main.js, e.g. the previous commit's, and
 * `node=FLAGS` passes options to node itself, e.g. V8 flags NODE_OPTIONS refuses),
 * --no-peer, --no-bare, --no-v2, --json FILE, --chart FILE.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { rootDir } from '../../src/spec.js';
import { drawChart } from './chart.js';
import type { LoadResult } from './load.js';
import { benchImageDir, benchServiceEnv, processFigures, runJson, runLoad, runV2Load, startServer, type Server } from './processes.js';

const { values: opt } = parseArgs({
  options: {
    duration: { type: 'string', default: '15' },
    rounds: { type: 'string', default: '2' },
    slices: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '1,4,16,64' },
    variant: { type: 'string', multiple: true },
    'no-peer': { type: 'boolean', default: false },
    'no-bare': { type: 'boolean', default: false },
    'no-v2': { type: 'boolean', default: false },
    json: { type: 'string' },
    chart: { type: 'string' },
  },
});
const durationS = Number(opt.duration);
const rounds = Number(opt.rounds);
const slices = Math.max(1, Number(opt.slices));
const concurrencies = opt.concurrency.split(',').map(Number);
/** Where the bare pipeline runs: c=16, or the first concurrency asked for. */
const compareAt = concurrencies.includes(16) ? 16 : concurrencies[0]!;
/** The concurrencies the ratios compare, where the targets take turns in slices. */
const slicedConcurrencies = [...new Set([4, 16, compareAt])].filter((c) => concurrencies.includes(c));
const shared = path.resolve(rootDir, '..', 'shared');
const peerScript = path.join(shared, 'bench', 'peer-fastapi', 'run.sh');
/** Debian packages the peer runs on (../shared/bench/README.md). */
const PEER_PACKAGES = 'python3-fastapi python3-uvicorn python3-multipart python3-opencv python3-numpy python3-pil';
const node = process.execPath;
const scriptDir = path.dirname(new URL(import.meta.url).pathname);
const stamp = new Date().toISOString().replace(/[:.]/g, '').slice(0, 15);
const jsonFile = opt.json ?? path.join(rootDir, '.bench', `bench-${stamp}.json`);
const chartFile = opt.chart ?? path.join(rootDir, '.bench', `bench-${stamp}.png`);

interface Variant {
  readonly name: string;
  readonly env: Record<string, string>;
  readonly entry: string;
  /** Options for node itself (V8 flags that NODE_OPTIONS refuses). */
  readonly nodeArgs: string[];
}
const variants: Variant[] = (opt.variant ?? ['service:']).map((spec) => {
  const [name, vars = ''] = spec.split(/:(.*)/s) as [string, string?];
  const { entry = path.join(rootDir, 'dist', 'src', 'main.js'), node: nodeArgs = '', ...env } = Object.fromEntries(
    vars.split(',').filter(Boolean).map((kv) => kv.split(/=(.*)/s).slice(0, 2) as [string, string]),
  );
  return { name, env, entry, nodeArgs: nodeArgs.split(' ').filter(Boolean) };
});

/** One measured point. */
interface Point extends Omit<LoadResult, 'errorKinds' | 'imagesPerRequest'> {
  readonly imagesPerRequest?: number;
  readonly round: number;
  /** At c=4 and c=16, the targets alternate in slices within a round (1…slices). */
  readonly slice?: number;
  readonly target: string;
  readonly errorKinds?: Record<string, number>;
  readonly rssMiB?: number;
  readonly peakRssMiB?: number;
  readonly cpuMsPerRequest?: number;
}
const points: Point[] = [];

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

/**
 * Uploads every server answers once started, before its first measured point: a fresh service
 * took 12.3 ms of CPU per request over its first ≈ 700 uploads at c=16 against 10.5–11.6 after
 * (measured; the cause was not), which would otherwise fall on the first round only. The peer
 * gets the same.
 */
const SERVER_WARMUP = 1000;

/** Open Inference Protocol loads of the first service: images per binary request, at one concurrency. */
interface V2Load {
  readonly suffix: string;
  readonly batch: number;
}
/** Where each V2 load is measured: the concurrencies of its targets. */
const v2Loads: ReadonlyMap<number, V2Load> = new Map(opt['no-v2'] ? [] : [[16, { suffix: '-v2', batch: 1 }], [4, { suffix: '-v2x8', batch: 8 }]]);

async function measure(server: Server, round: number, concurrency: number, seconds = durationS, slice?: number, v2?: V2Load): Promise<void> {
  // The server warmed up once (SERVER_WARMUP); the load generator warms up inside the measured
  // process, at this concurrency, so that its own JIT compiles before the measured seconds, not
  // during them on the server's cores (it matters in short slices). The server's CPU is read
  // around that process: its warm-up requests are counted in.
  const clientWarmup = Math.max(64, 4 * concurrency);
  const before = processFigures(server.pid);
  const args = ['--warmup', String(clientWarmup), '-d', String(seconds)];
  const result = v2 ? await runV2Load(server.port, concurrency, v2.batch, ...args) : await runLoad(server.port, concurrency, ...args);
  const after = processFigures(server.pid);
  const target = `${server.name}${v2?.suffix ?? ''}`;
  const point: Point = {
    round,
    ...(slice ? { slice } : {}),
    target,
    ...result,
    rssMiB: Math.round(after.rssMiB),
    peakRssMiB: Math.round(after.peakRssMiB),
    cpuMsPerRequest: Math.round(((after.cpuMs - before.cpuMs) / Math.max(1, result.ok + clientWarmup)) * 10) / 10,
  };
  points.push(point);
  log(`  ${target.padEnd(14)} c=${String(concurrency).padStart(2)}  ${String(result.rps).padStart(6)} req/s${v2 ? ` (${Math.round(result.rps * v2.batch)} img/s)` : ''}  p99 ${result.p99Ms} ms  errors ${result.errors}  RSS ${point.rssMiB} MiB  CPU ${point.cpuMsPerRequest} ms/req (load generator ${result.clientCpuMsPerRequest})`);
}

const servers: Server[] = [];
const stopAll = async (): Promise<void> => {
  await Promise.all(servers.map((s) => s.stop()));
};
process.once('SIGINT', () => void stopAll().finally(() => process.exit(130)));

const load0 = os.loadavg();
try {
  let port = 18480;
  for (const v of variants) {
    servers.push(await startServer(v.name, node, [...v.nodeArgs, v.entry], port, '/health', benchServiceEnv(port, v.env)));
    port++;
  }
  if (opt['no-peer']) {
    log('peer: skipped (--no-peer)');
  } else if (!existsSync(peerScript)) {
    log(`peer: skipped, ${peerScript} is absent`);
  } else if (spawnSync('/usr/bin/python3', ['-c', 'import fastapi, uvicorn, multipart, cv2, numpy'], { stdio: 'ignore' }).status !== 0) {
    // The peer runs on Debian's Python and packages (../shared/bench/README.md).
    log(`peer: skipped, its Python packages are missing: apt-get install -y ${PEER_PACKAGES}`);
  } else {
    servers.push(await startServer('peer', peerScript, [String(port)], port, '/health', process.env));
  }

  for (const s of servers) {
    log(`${s.name}: warming up (${SERVER_WARMUP} uploads at c=16)`);
    await runLoad(s.port, 16, '-n', String(SERVER_WARMUP));
  }

  const measureBare = async (round: number, seconds: number, slice?: number): Promise<void> => {
    const bare = await runJson<LoadResult & { cpuMsPerImage: number }>(
      node,
      [path.join(scriptDir, 'bare.js'), '-c', '16', '-d', String(seconds), benchImageDir],
      benchServiceEnv(0, variants[0]!.env),
    );
    points.push({ round, ...(slice ? { slice } : {}), target: 'bare', ...bare, errorKinds: {}, cpuMsPerRequest: bare.cpuMsPerImage, clientCpuMsPerRequest: null });
    log(`  ${'bare'.padEnd(14)} c=16  ${String(bare.rps).padStart(6)} img/s  p99 ${bare.p99Ms} ms  CPU ${bare.cpuMsPerImage} ms/img`);
  };
  // At the concurrencies the ratios compare, the targets measured there take turns in short
  // slices (bare, service, peer, bare, service, peer…), so that the neighbours' load, which
  // changes over tens of seconds on a shared machine, falls on every side alike. Elsewhere each
  // target has one window.
  type Turn = (seconds: number, slice?: number) => Promise<void>;
  for (let round = 1; round <= rounds; round++) {
    log(`round ${round}/${rounds}`);
    for (const c of concurrencies) {
      const turns: Turn[] = [];
      if (!opt['no-bare'] && c === compareAt) turns.push((seconds, slice) => measureBare(round, seconds, slice));
      // The services, then the peer: the order they were started in.
      for (const s of servers) turns.push((seconds, slice) => measure(s, round, c, seconds, slice));
      // The first service over V2, right after its uploads, in the same slices.
      const v2 = v2Loads.get(c);
      if (v2 && servers[0]?.name === variants[0]!.name) turns.splice(turns.length - servers.length + 1, 0, (seconds, slice) => measure(servers[0]!, round, c, seconds, slice, v2));
      if (slicedConcurrencies.includes(c) && slices > 1 && turns.length > 1) {
        for (let slice = 1; slice <= slices; slice++) for (const turn of turns) await turn(durationS / slices, slice);
      } else {
        for (const turn of turns) await turn(durationS);
      }
    }
  }
} finally {
  await stopAll();
}
const load1 = os.loadavg();

// Summary: medians over rounds; ratios per round (the two sides measured minutes apart at most).
const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const r2 = (x: number): number => Math.round(x * 100) / 100;
const sum = (xs: readonly number[]): number => xs.reduce((a, x) => a + x, 0);
/** A round's figures for one target and concurrency: its slices combined (throughput over their total time, CPU per request over all requests, the slices' median latencies). */
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
    clientCpuMsPerRequest: perRequest((p) => p.clientCpuMsPerRequest),
  };
}
// One point per target, round and concurrency: the slices of a round combined, once.
const slicesOf = new Map<string, Point[]>();
for (const p of points) {
  const key = `${p.target}/${p.round}/${p.concurrency}`;
  slicesOf.set(key, [...(slicesOf.get(key) ?? []), p]);
}
const roundPoints = [...slicesOf.values()].map(combine);
/** The round points of `target` at `c` (all concurrencies when undefined). */
const at = (target: string, c: number | undefined): Point[] =>
  roundPoints.filter((p) => p.target === target && (c === undefined || p.concurrency === c));
const targets = [...new Set(points.map((p) => p.target))];
const summary = targets.flatMap((target) =>
  [...new Set(at(target, undefined).map((p) => p.concurrency))].map((c) => {
    const ps = at(target, c);
    return {
      target,
      concurrency: c,
      rps: r2(median(ps.map((p) => p.rps))),
      imagesPerS: r2(median(ps.map((p) => p.rps * (p.imagesPerRequest ?? 1)))),
      p50Ms: r2(median(ps.map((p) => p.p50Ms ?? NaN))),
      p90Ms: r2(median(ps.map((p) => p.p90Ms ?? NaN))),
      p99Ms: r2(median(ps.map((p) => p.p99Ms ?? NaN))),
      errors: ps.reduce((a, p) => a + p.errors, 0),
      rssMiB: Math.max(...ps.map((p) => p.rssMiB ?? NaN)),
      cpuMsPerRequest: r2(median(ps.map((p) => p.cpuMsPerRequest ?? NaN))),
      clientCpuMsPerRequest: r2(median(ps.map((p) => p.clientCpuMsPerRequest ?? NaN))),
    };
  }),
);

type Figure = (p: Point) => number | null | undefined;
/** `a`'s figure over `b`'s at concurrency `c`, round by round: median and range. */
function ratio(a: string, b: string, c: number, figureA: Figure, figureB: Figure = figureA): { median: number; min: number; max: number } | undefined {
  const perRound = Array.from({ length: rounds }, (_, i) => {
    const pa = at(a, c).find((p) => p.round === i + 1);
    const pb = at(b, c).find((p) => p.round === i + 1);
    const x = pa && figureA(pa);
    const y = pb && figureB(pb);
    return x && y ? x / y : undefined;
  }).filter((x): x is number => x !== undefined);
  return perRound.length ? { median: r2(median(perRound)), min: r2(Math.min(...perRound)), max: r2(Math.max(...perRound)) } : undefined;
}
const service = variants[0]!.name;
/** Images per second of a point: requests per second times images per request. */
const imagesPerS = (p: Point): number => p.rps * (p.imagesPerRequest ?? 1);
const ratios = {
  v2OverUploadRpsC16: ratio(`${service}-v2`, service, 16, (p) => p.rps),
  v2x8OverUploadImagesC4: ratio(`${service}-v2x8`, service, 4, imagesPerS),
  serviceOverBareRpsC16: ratio(service, 'bare', 16, (p) => p.rps),
  serviceOverPeerRpsC4: ratio(service, 'peer', 4, (p) => p.rps),
  serviceOverPeerRpsC16: ratio(service, 'peer', 16, (p) => p.rps),
  serviceOverPeerP99C16: ratio(service, 'peer', 16, (p) => p.p99Ms),
  // Informative, no target: where the req/s gap comes from. CPU per image of the bare pipeline
  // over CPU per request of the server alone, then of the server plus the load generator, which
  // shares the same cores.
  bareOverServiceCpuC16: ratio('bare', service, 16, (p) => p.cpuMsPerRequest),
  bareOverServiceWithClientCpuC16: ratio('bare', service, 16, (p) => p.cpuMsPerRequest, (p) =>
    p.cpuMsPerRequest !== undefined && p.clientCpuMsPerRequest ? p.cpuMsPerRequest + p.clientCpuMsPerRequest : undefined),
};
const targetsMet = {
  'V2 binary (1 image) / upload rps c=16 >= 0.95': ratios.v2OverUploadRpsC16 && ratios.v2OverUploadRpsC16.median >= 0.95,
  'V2 binary (8 images) / upload images/s c=4 >= 1.1': ratios.v2x8OverUploadImagesC4 && ratios.v2x8OverUploadImagesC4.median >= 1.1,
  'service/bare rps c=16 >= 0.90': ratios.serviceOverBareRpsC16 && ratios.serviceOverBareRpsC16.median >= 0.9,
  'service/peer rps c=4 >= 4': ratios.serviceOverPeerRpsC4 && ratios.serviceOverPeerRpsC4.median >= 4,
  'service/peer rps c=16 >= 4': ratios.serviceOverPeerRpsC16 && ratios.serviceOverPeerRpsC16.median >= 4,
  'service/peer p99 c=16 <= 0.25': ratios.serviceOverPeerP99C16 && ratios.serviceOverPeerP99C16.median <= 0.25,
  'no errors up to c=64': summary.filter((s) => s.target !== 'peer').every((s) => s.errors === 0),
};

const cpus = os.cpus();
const machine = {
  cpus: cpus.length,
  cpuModel: cpus[0]?.model,
  memoryGiB: Math.round(os.totalmem() / 2 ** 30),
  kernel: os.release(),
  node: process.version,
  loadAverage1mStartEnd: [r2(load0[0]!), r2(load1[0]!)],
};
// The photos' folder by name (`cats-dogs-others/images`), not by this machine's path: the raw
// figures are published in docs/, which never points at the shared folder beside the checkout.
const imagesName = path.relative(path.resolve(benchImageDir, '..', '..'), benchImageDir);
const report = {
  date: new Date().toISOString(),
  machine,
  settings: { durationS, rounds, slices, slicedConcurrencies, concurrencies, variants, auth: 'AUTH_DISABLED=true', images: imagesName },
  summary,
  ratios,
  targetsMet,
  points,
};
mkdirSync(path.dirname(jsonFile), { recursive: true });
writeFileSync(jsonFile, `${JSON.stringify(report, null, 2)}\n`);

// The table.
const cell = (x: string | number | undefined, w: number): string => String(x ?? '–').padStart(w);
const lines = [
  `| target | c | req/s | img/s | p50 ms | p90 ms | p99 ms | errors | server RSS MiB | server CPU ms/req | load generator CPU ms/req |`,
  `| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |`,
  ...summary.map(
    (s) =>
      `| ${s.target} | ${s.concurrency} | ${cell(s.rps, 6)} | ${cell(s.imagesPerS, 6)} | ${cell(s.p50Ms, 6)} | ${cell(s.p90Ms, 6)} | ${cell(s.p99Ms, 6)} | ${cell(s.errors, 3)} | ${cell(Number.isFinite(s.rssMiB) ? s.rssMiB : '–', 4)} | ${cell(s.cpuMsPerRequest, 5)} | ${cell(Number.isFinite(s.clientCpuMsPerRequest) ? s.clientCpuMsPerRequest : '–', 5)} |`,
  ),
];
const fmt = (r: { median: number; min: number; max: number } | undefined): string =>
  r ? `${r.median} (rounds: ${r.min}–${r.max})` : 'n/a';
process.stdout.write(
  [
    `\n${machine.cpus} × ${machine.cpuModel}, ${machine.memoryGiB} GiB, Node ${machine.node}; load average ${machine.loadAverage1mStartEnd.join(' → ')}; ${rounds} rounds of ${durationS} s per point; medians; AUTH_DISABLED=true\n`,
    ...lines,
    '',
    `V2 binary, 1 image ÷ upload, req/s at c=16:     ${fmt(ratios.v2OverUploadRpsC16)}   (target ≥ 0.95)`,
    `V2 binary, 8 images ÷ upload, img/s at c=4:     ${fmt(ratios.v2x8OverUploadImagesC4)}   (target ≥ 1.1)`,
    `service ÷ bare, req/s at c=16:    ${fmt(ratios.serviceOverBareRpsC16)}   (target ≥ 0.90)`,
    `service ÷ peer, req/s at c=4:     ${fmt(ratios.serviceOverPeerRpsC4)}   (target ≥ 4)`,
    `service ÷ peer, req/s at c=16:    ${fmt(ratios.serviceOverPeerRpsC16)}   (target ≥ 4)`,
    `service ÷ peer, p99 at c=16:      ${fmt(ratios.serviceOverPeerP99C16)}   (target ≤ 0.25)`,
    `bare ÷ service, CPU per image at c=16, server alone:                ${fmt(ratios.bareOverServiceCpuC16)}   (informative)`,
    `bare ÷ service, CPU per image at c=16, server + load generator:     ${fmt(ratios.bareOverServiceWithClientCpuC16)}   (informative)`,
    ...Object.entries(targetsMet).map(([k, v]) => `  ${v ? 'met    ' : v === false ? 'NOT met' : 'n/a    '}  ${k}`),
    `raw figures: ${jsonFile}`,
    '',
  ].join('\n'),
);

const colours = ['#1f77b4', '#2ca02c', '#9467bd', '#8c564b'];
const bareRps = summary.find((s) => s.target === 'bare')?.rps;
await drawChart(
  chartFile,
  `${machine.cpus}-core ${machine.cpuModel ?? 'CPU'}, ${new Date().toISOString().slice(0, 10)}, medians of ${rounds} rounds`,
  targets
    // The V2 loads are one point each, in the table and the ratios.
    .filter((t) => t !== 'bare' && !t.endsWith('-v2') && !t.endsWith('-v2x8'))
    .map((t, i) => ({
      name: t === 'peer' ? 'FastAPI peer' : `TS service${variants.length > 1 ? ` (${t})` : ''}`,
      colour: t === 'peer' ? '#d62728' : colours[i % colours.length]!,
      points: summary.filter((s) => s.target === t).map((s) => ({ concurrency: s.concurrency, rps: s.rps, p99Ms: s.p99Ms })),
    })),
  bareRps ? { label: `bare pipeline ${bareRps} img/s`, value: bareRps } : undefined,
);
process.stdout.write(`chart: ${chartFile}\n`);
