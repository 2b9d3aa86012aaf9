/**
 * `make bench`: in one run, the bare pipeline, the service (compiled, AUTH_DISABLED=true) at
 * each concurrency over loopback, and both performance peers of ../shared/bench (`peers.ts`:
 * FastAPI + OpenCV DNN, FastAPI + onnxruntime; each skipped with its reason when it cannot run
 * here), each point interleaved round by round. At the concurrencies the ratios compare (4 and
 * 16), the targets take turns in slices (bare at c=16, the services, the peers, then again; each
 * slice duration/slices long) and a round's figures combine its slices. Then, in the same round
 * and the same way, 12-megapixel JPEGs (`large-images.ts`) at c=4. Every server answers 1,000
 * uploads before the first measured point. Ratios are taken per round against each peer and
 * against the faster peer of that round (`report.ts`). Prints the CPU and its int8 flags, a table
 * and the ratios, writes the raw figures as JSON and the chart as PNG.
 *
 * Each service is also measured over the Open Inference Protocol, in the same slices as its
 * uploads: binary requests of one image at c=16 (`<service>-v2`, req/s against the uploads') and
 * of 8 images at c=4 (`<service>-v2x8`, images/s against the uploads').
 *
 * The service keeps no answers: every upload is decoded and inferred, as the peers do (the load
 * generator cycles through the same photos, which an answer cache would serve from memory).
 *
 * Options: --duration S (per point, default 15), --rounds N (default 2), --slices N (default 3),
 * --concurrency 1,4,16,64, --peers peer-fastapi,peer-ort,
 * --variant NAME:VAR=VALUE,VAR=VALUE (repeatable: service variants to compare, e.g. levers; the
 * pseudo-variable `entry=PATH` runs another build's main.js, e.g. the previous commit's, and
 * `node=FLAGS` passes options to node itself, e.g. V8 flags NODE_OPTIONS refuses),
 * --no-peer, --no-bare, --no-v2, --no-12mp, --json FILE, --chart FILE.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { rootDir } from '../../src/spec.js';
import { drawChart } from './chart.js';
import { benchCpu, describeCpu } from './cpu.js';
import { largeJpegs } from './large-images.js';
import type { LoadResult } from './load.js';
import { benchPeers, startPeer } from './peers.js';
import { threadCpuMs } from './threads.js';
import { benchImageDir, benchServiceEnv, processTreeFigures, runJson, runLoad, runLoadOn, runV2Load, startServer, type Server } from './processes.js';
import { resultFile } from './result-file.js';
import { printReport } from './print.js';
import { FASTER_PEER, LARGE, median, peerRatios, r2, ratio, imagesPerS, roundPoints, rps, withFasterPeer, type Point } from './report.js';

const { values: opt } = parseArgs({
  options: {
    duration: { type: 'string', default: '15' },
    rounds: { type: 'string', default: '2' },
    slices: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '1,4,16,64' },
    peers: { type: 'string', default: 'peer-fastapi,peer-ort' },
    variant: { type: 'string', multiple: true },
    'no-peer': { type: 'boolean', default: false },
    'no-bare': { type: 'boolean', default: false },
    'no-v2': { type: 'boolean', default: false },
    'no-12mp': { type: 'boolean', default: false },
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
const node = process.execPath;
const scriptDir = path.dirname(new URL(import.meta.url).pathname);
const started = new Date();
const jsonFile = opt.json ?? resultFile('bench', started);
const chartFile = opt.chart ?? resultFile('bench', started, 'png');

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

const points: Point[] = [];

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

/**
 * Uploads every server answers once started, before its first measured point: a fresh service
 * took 12.3 ms of CPU per request over its first ≈ 700 uploads at c=16 against 10.5–11.6 after
 * (measured; the cause was not), which would otherwise fall on the first round only. The peers
 * get the same.
 */
const SERVER_WARMUP = 1000;

/** What a measured point sends: V2 binary requests of `batch` images, or uploads of other `images`; its target's suffix. */
interface Load {
  readonly suffix: string;
  readonly batch?: number;
  readonly images?: string;
  /** The load generator's own warm-up requests (default max(64, 4 × c)). */
  readonly warmup?: number;
}
/** Where each V2 load is measured: the concurrencies of its targets. */
const v2Loads: ReadonlyMap<number, Load> = new Map(opt['no-v2'] ? [] : [[16, { suffix: '-v2', batch: 1 }], [4, { suffix: '-v2x8', batch: 8 }]]);

async function measure(server: Server, round: number, concurrency: number, seconds = durationS, slice?: number, load?: Load): Promise<void> {
  // The server warmed up once (SERVER_WARMUP); the load generator warms up inside the measured
  // process, at this concurrency, so that its own JIT compiles before the measured seconds, not
  // during them on the server's cores (it matters in short slices). The server's CPU (its
  // worker processes included) is read around that process: its warm-up requests are counted in.
  const clientWarmup = load?.warmup ?? Math.max(64, 4 * concurrency);
  const before = processTreeFigures(server.pid);
  const isService = services.includes(server);
  const mainBefore = isService ? threadCpuMs(server.pid) : 0;
  const args = ['--warmup', String(clientWarmup), '-d', String(seconds)];
  const result = load?.batch
    ? await runV2Load(server.port, concurrency, load.batch, ...args)
    : await runLoadOn(load?.images ?? benchImageDir, server.port, concurrency, ...args);
  const after = processTreeFigures(server.pid);
  const mainAfter = isService ? threadCpuMs(server.pid) : 0;
  const target = `${server.name}${load?.suffix ?? ''}`;
  const point: Point = {
    round,
    ...(slice ? { slice } : {}),
    target,
    ...result,
    rssMiB: Math.round(after.rssMiB),
    peakRssMiB: Math.round(after.peakRssMiB),
    cpuMsPerRequest: Math.round(((after.cpuMs - before.cpuMs) / Math.max(1, result.ok + clientWarmup)) * 10) / 10,
    ...(isService ? { mainCpuMsPerRequest: Math.round(((mainAfter - mainBefore) / Math.max(1, result.ok + clientWarmup)) * 100) / 100 } : {}),
  };
  points.push(point);
  log(`  ${target.padEnd(18)} c=${String(concurrency).padStart(2)}  ${String(result.rps).padStart(6)} req/s${load?.batch ? ` (${Math.round(result.rps * load.batch)} img/s)` : ''}  p99 ${result.p99Ms} ms  errors ${result.errors}  RSS ${point.rssMiB} MiB  CPU ${point.cpuMsPerRequest} ms/req${isService ? ` (main thread ${point.mainCpuMsPerRequest})` : ''} (load generator ${result.clientCpuMsPerRequest})`);
}

const cpu = benchCpu();
log(`CPU: ${describeCpu(cpu)}`);
const services: Server[] = [];
const peers: Server[] = [];
const peerNotes: { name: string; label: string; versions?: string; skipped?: string }[] = [];
const stopAll = async (): Promise<void> => {
  await Promise.all([...services, ...peers].map((s) => s.stop()));
};
process.once('SIGINT', () => void stopAll().finally(() => process.exit(130)));

let largeDir: string | undefined;
const load0 = os.loadavg();
try {
  let port = 18480;
  for (const v of variants) {
    services.push(await startServer(v.name, node, [...v.nodeArgs, v.entry], port, '/health', benchServiceEnv(port, v.env)));
    port++;
  }
  const wanted = opt['no-peer'] ? [] : opt.peers.split(',').filter(Boolean);
  if (opt['no-peer']) log('peers: skipped (--no-peer)');
  for (const peer of benchPeers(path.join(shared, 'bench')).filter((p) => wanted.includes(p.name))) {
    log(`${peer.name}: starting (${peer.label})`);
    const started = await startPeer(peer, port++);
    if ('skipped' in started) {
      log(`${peer.name}: skipped, ${started.skipped}`);
      peerNotes.push({ name: peer.name, label: peer.label, skipped: started.skipped });
    } else {
      peers.push(started.server);
      peerNotes.push({ name: peer.name, label: peer.label, versions: started.versions });
      log(`${peer.name}: ${started.versions ?? 'running'}`);
    }
  }
  if (!opt['no-12mp']) {
    log('12 MP JPEGs: made once from the development photos (.bench/images)');
    largeDir = await largeJpegs(benchImageDir, path.join(rootDir, '.bench', 'images'));
  }

  for (const s of [...services, ...peers]) {
    log(`${s.name}: warming up (${SERVER_WARMUP} uploads at c=16)`);
    await runLoad(s.port, 16, '-n', String(SERVER_WARMUP));
  }

  const measureBare = async (round: number, seconds: number, slice?: number): Promise<void> => {
    const bare = await runJson<LoadResult & { cpuMsPerImage: number; mainThreadCpuMsPerImage?: number }>(
      node,
      [path.join(scriptDir, 'bare.js'), '-c', '16', '-d', String(seconds), benchImageDir],
      benchServiceEnv(0, variants[0]!.env),
    );
    points.push({
      round, ...(slice ? { slice } : {}), target: 'bare', ...bare, errorKinds: {}, cpuMsPerRequest: bare.cpuMsPerImage,
      ...(bare.mainThreadCpuMsPerImage === undefined ? {} : { mainCpuMsPerRequest: bare.mainThreadCpuMsPerImage }), clientCpuMsPerRequest: null,
    });
    log(`  ${'bare'.padEnd(18)} c=16  ${String(bare.rps).padStart(6)} img/s  p99 ${bare.p99Ms} ms  CPU ${bare.cpuMsPerImage} ms/img (main thread ${bare.mainThreadCpuMsPerImage})`);
  };
  // At the concurrencies the ratios compare, the targets measured there take turns in short
  // slices (bare, service, peers, bare, service, peers…), so that the neighbours' load, which
  // changes over tens of seconds on a shared machine, falls on every side alike. Elsewhere each
  // target has one window.
  type Turn = (seconds: number, slice?: number) => Promise<void>;
  const inTurn = async (turns: readonly Turn[], sliced: boolean): Promise<void> => {
    if (sliced && slices > 1 && turns.length > 1) {
      for (let slice = 1; slice <= slices; slice++) for (const turn of turns) await turn(durationS / slices, slice);
    } else {
      for (const turn of turns) await turn(durationS);
    }
  };
  for (let round = 1; round <= rounds; round++) {
    log(`round ${round}/${rounds}`);
    for (const c of concurrencies) {
      const turns: Turn[] = [];
      if (!opt['no-bare'] && c === compareAt) turns.push((seconds, slice) => measureBare(round, seconds, slice));
      // Each service's uploads, then its V2 requests in the same slices, then the peers.
      const v2 = v2Loads.get(c);
      for (const s of services) {
        turns.push((seconds, slice) => measure(s, round, c, seconds, slice));
        if (v2) turns.push((seconds, slice) => measure(s, round, c, seconds, slice, v2));
      }
      for (const s of peers) turns.push((seconds, slice) => measure(s, round, c, seconds, slice));
      await inTurn(turns, slicedConcurrencies.includes(c));
    }
    if (largeDir) {
      // A few warm-up requests only: a 12 MP upload costs a peer 50–250 ms.
      const large: Load = { suffix: LARGE.suffix, images: largeDir, warmup: 2 * LARGE.concurrency };
      log(`  12 MP JPEGs at c=${LARGE.concurrency}`);
      await inTurn([...services, ...peers].map((s) => (seconds, slice) => measure(s, round, LARGE.concurrency, seconds, slice, large)), true);
    }
  }
} finally {
  await stopAll();
}
const load1 = os.loadavg();

// Rounds, then the faster peer of each round at each concurrency (uploads and 12 MP JPEGs).
const peerNames = peers.map((p) => p.name);
const byRound = withFasterPeer(withFasterPeer(roundPoints(points), peerNames), peerNames, LARGE.suffix);
const at = (target: string, c: number | undefined): Point[] => byRound.filter((p) => p.target === target && (c === undefined || p.concurrency === c));
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
      mainCpuMsPerRequest: r2(median(ps.map((p) => p.mainCpuMsPerRequest ?? NaN))),
      clientCpuMsPerRequest: r2(median(ps.map((p) => p.clientCpuMsPerRequest ?? NaN))),
    };
  }),
);

const service = variants[0]!.name;
const cpuPerRequest = (p: Point): number | undefined => p.cpuMsPerRequest;
const ratios = {
  v2OverUploadRpsC16: ratio(byRound, `${service}-v2`, service, 16, rps),
  v2x8OverUploadImagesC4: ratio(byRound, `${service}-v2x8`, service, 4, imagesPerS),
  serviceOverBareRpsC16: ratio(byRound, service, 'bare', 16, rps),
  // Server CPU per request over the bare pipeline's per image: the server alone, then with the
  // load generator, which shares the same cores (the bare pipeline has no client).
  serviceOverBareCpuC16: ratio(byRound, service, 'bare', 16, cpuPerRequest),
  serviceOverBareMainCpuC16: ratio(byRound, service, 'bare', 16, (p) => p.mainCpuMsPerRequest),
  serviceWithClientOverBareCpuC16: ratio(byRound, service, 'bare', 16, (p) =>
    p.cpuMsPerRequest !== undefined && p.clientCpuMsPerRequest ? p.cpuMsPerRequest + p.clientCpuMsPerRequest : undefined, cpuPerRequest),
  peers: Object.fromEntries([...peerNames, ...(peerNames.length ? [FASTER_PEER] : [])].map((peer) => [peer, peerRatios(byRound, service, peer, concurrencies)])),
  // The other variants over the first, in the same slices: levers.
  variants: Object.fromEntries(
    variants.slice(1).map((v) => [
      v.name,
      {
        rps: Object.fromEntries(concurrencies.map((c) => [c, ratio(byRound, v.name, service, c, rps)])),
        cpu: Object.fromEntries(concurrencies.map((c) => [c, ratio(byRound, v.name, service, c, cpuPerRequest)])),
        mainCpu: Object.fromEntries(concurrencies.map((c) => [c, ratio(byRound, v.name, service, c, (p) => p.mainCpuMsPerRequest)])),
        v2Rps: ratio(byRound, `${v.name}-v2`, `${service}-v2`, 16, rps),
        v2x8Images: ratio(byRound, `${v.name}-v2x8`, `${service}-v2x8`, 4, imagesPerS),
        largeRps: ratio(byRound, `${v.name}${LARGE.suffix}`, `${service}${LARGE.suffix}`, LARGE.concurrency, rps),
      },
    ]),
  ),
};

const machine = {
  cpus: cpu.cores,
  cpuModel: cpu.model,
  int8Flags: cpu.int8Flags,
  missingInt8Flags: cpu.missingInt8Flags,
  u8s8Exact: cpu.u8s8Exact,
  memoryGiB: Math.round(os.totalmem() / 2 ** 30),
  kernel: os.release(),
  node: process.version,
  loadAverage1mStartEnd: [r2(load0[0]!), r2(load1[0]!)],
};
// The photos' folder by name (`cats-dogs-others/images`), not by this machine's path: the raw
// figures are published in docs/, which never points at the shared folder beside the checkout.
const imagesName = path.relative(path.resolve(benchImageDir, '..', '..'), benchImageDir);
const serviceNames = new Set(variants.map((v) => v.name));
const serviceErrors = summary.filter((s) => serviceNames.has(s.target.replace(/-(v2|v2x8|12mp)$/, ''))).every((s) => s.errors === 0);
const settings = {
  durationS, rounds, slices, slicedConcurrencies, concurrencies, variants, auth: 'AUTH_DISABLED=true', images: imagesName,
  largeImages: largeDir ? path.basename(largeDir) : null,
};
const report = { date: new Date().toISOString(), machine, settings, peers: peerNotes, summary, ratios, serviceErrors, points };
mkdirSync(path.dirname(jsonFile), { recursive: true });
writeFileSync(jsonFile, `${JSON.stringify(report, null, 2)}\n`);

printReport({ describeCpu: describeCpu(cpu), machine, rounds, durationS, summary, ratios, peerNotes, concurrencies, serviceErrors, variantNames: variants.slice(1).map((v) => v.name), jsonFile });

const colours = ['#1f77b4', '#2ca02c', '#9467bd', '#8c564b'];
const peerColours: Readonly<Record<string, string>> = { 'peer-fastapi': '#d62728', 'peer-ort': '#ff7f0e' };
const bareRps = summary.find((s) => s.target === 'bare')?.rps;
await drawChart(
  chartFile,
  `${machine.cpus}-core ${machine.cpuModel}, ${new Date().toISOString().slice(0, 10)}, medians of ${rounds} rounds`,
  targets
    // The V2 and 12 MP loads are one point each, in the table and the ratios.
    .filter((t) => t !== 'bare' && !/-(v2|v2x8|12mp)$/.test(t))
    .map((t, i) => ({
      name: t === 'peer-fastapi' ? 'FastAPI + OpenCV (peer 1)' : t === 'peer-ort' ? 'FastAPI + onnxruntime (peer 2)' : `TS service${variants.length > 1 ? ` (${t})` : ''}`,
      colour: peerColours[t] ?? colours[i % colours.length]!,
      points: summary.filter((s) => s.target === t).map((s) => ({ concurrency: s.concurrency, rps: s.rps, p99Ms: s.p99Ms })),
    })),
  bareRps ? { label: `bare pipeline ${bareRps} img/s`, value: bareRps } : undefined,
);
process.stdout.write(`chart: ${chartFile}\n`);
