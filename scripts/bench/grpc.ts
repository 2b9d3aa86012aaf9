/**
 * `make bench-grpc`: the gRPC front-end against REST `/upload` on one service (the built
 * `dist/src/main.js`, with the image's settings, as `make bench` runs it), in interleaved slices
 * so that a shared machine's load falls on both alike:
 *
 * - `ModelInfer` of 1 image (raw_input_contents) ÷ `/upload`, req/s at c=16 (target ≥ 1.0);
 * - `ModelInfer` of 8 images ÷ `/upload`, images/s at c=4 (target ≥ 1.2).
 *
 * Each round measures the four loads in `--slices` turns of `--duration / --slices` seconds each
 * and gives each ratio; the medians of the rounds are printed last, with the command's settings.
 *
 *   make bench-grpc BENCH_ARGS="--duration 10 --rounds 3"
 */
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { LoadResult } from './load.js';
import { benchImageDir, benchServiceEnv, processFigures, runJson, runLoad, startServer, type Server } from './processes.js';

const { values: opt } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '3' },
    slices: { type: 'string', default: '2' },
    warmup: { type: 'string', default: '300' },
    // The gRPC load generator's client: its lean one on node:http2 (as load.ts's own HTTP/1.1
    // client), or grpc-js's, which costs ≈ 1 ms more CPU per call on the server's cores.
    client: { type: 'string', default: 'h2' },
  },
});
const durationS = Number(opt.duration);
const rounds = Number(opt.rounds);
const slices = Number(opt.slices);
const scriptDir = path.dirname(new URL(import.meta.url).pathname);
const log = (line: string): void => void process.stderr.write(`${line}\n`);

/** One load: what it sends, at which concurrency. */
interface Load {
  readonly name: string;
  readonly concurrency: number;
  readonly run: (server: Server, grpcPort: number, seconds: number, warmup: number) => Promise<LoadResult>;
}

const grpcLoad = (batch: number, concurrency: number) => (_server: Server, grpcPort: number, seconds: number, warmup: number): Promise<LoadResult> =>
  runJson<LoadResult>(process.execPath, [
    path.join(scriptDir, 'grpc-load.js'),
    '--client', opt.client,
    '--address', `127.0.0.1:${grpcPort}`,
    '--batch', String(batch),
    '-c', String(concurrency),
    '--warmup', String(warmup),
    '-d', String(seconds),
    benchImageDir,
  ]);

const loads: readonly Load[] = [
  { name: 'upload', concurrency: 16, run: (s, _g, seconds, warmup) => runLoad(s.port, 16, '--warmup', String(warmup), '-d', String(seconds)) },
  { name: 'grpc', concurrency: 16, run: grpcLoad(1, 16) },
  { name: 'upload-c4', concurrency: 4, run: (s, _g, seconds, warmup) => runLoad(s.port, 4, '--warmup', String(warmup), '-d', String(seconds)) },
  { name: 'grpc-x8', concurrency: 4, run: grpcLoad(8, 4) },
];

interface Measured {
  readonly ok: number;
  readonly images: number;
  readonly seconds: number;
  readonly errors: number;
  readonly cpuMs: number;
  /** The load generator's CPU, in ms per request, per slice. */
  readonly clientCpu: number[];
  readonly p99: number[];
}

const median = (xs: readonly number[]): number => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};
const r2 = (x: number): number => Math.round(x * 100) / 100;

const port = 18580;
const grpcPort = 18581;
const node = process.execPath;
const load0 = os.loadavg();
const server = await startServer('service', node, [path.join('dist', 'src', 'main.js')], port, '/health/ready', benchServiceEnv(port, { GRPC_PORT: String(grpcPort) }));
const perRound: { round: number; grpcRatio: number; batchRatio: number; figures: Record<string, { rps: number; imagesPerS: number; p99Ms: number; errors: number; cpuMsPerImage: number; clientCpuMsPerRequest: number }> }[] = [];
try {
  log(`service: warming up (${opt.warmup} uploads and ${opt.warmup} gRPC calls at c=16)`);
  await runLoad(port, 16, '-n', String(opt.warmup));
  await runJson<LoadResult>(process.execPath, [path.join(scriptDir, 'grpc-load.js'), '--client', opt.client, '--address', `127.0.0.1:${grpcPort}`, '-c', '16', '-n', String(opt.warmup), benchImageDir]);
  for (let round = 1; round <= rounds; round++) {
    log(`round ${round}/${rounds}`);
    const measured = new Map<string, Measured>(loads.map((l) => [l.name, { ok: 0, images: 0, seconds: 0, errors: 0, cpuMs: 0, clientCpu: [], p99: [] }]));
    for (let slice = 1; slice <= slices; slice++) {
      for (const load of loads) {
        const warmup = Math.max(32, 4 * load.concurrency);
        const before = processFigures(server.pid);
        const result = await load.run(server, grpcPort, durationS / slices, warmup);
        const after = processFigures(server.pid);
        const m = measured.get(load.name)!;
        measured.set(load.name, {
          ok: m.ok + result.ok,
          images: m.images + result.ok * result.imagesPerRequest,
          seconds: m.seconds + result.durationS,
          errors: m.errors + result.errors,
          // The server's CPU over the slice, its warm-up requests counted in.
          cpuMs: m.cpuMs + (after.cpuMs - before.cpuMs) * (result.ok / Math.max(1, result.ok + warmup)),
          clientCpu: [...m.clientCpu, result.clientCpuMsPerRequest ?? NaN],
          p99: [...m.p99, result.p99Ms ?? NaN],
        });
        log(`  ${load.name.padEnd(10)} c=${String(load.concurrency).padStart(2)}  ${String(result.rps).padStart(6)} req/s  ${Math.round(result.rps * result.imagesPerRequest)} img/s  p99 ${result.p99Ms} ms  errors ${result.errors}  load generator ${result.clientCpuMsPerRequest} ms CPU/request`);
      }
    }
    const figures = Object.fromEntries([...measured].map(([name, m]) => [name, {
      rps: r2(m.ok / m.seconds),
      imagesPerS: r2(m.images / m.seconds),
      p99Ms: Math.max(...m.p99),
      errors: m.errors,
      cpuMsPerImage: r2(m.cpuMs / Math.max(1, m.images)),
      clientCpuMsPerRequest: r2(median(m.clientCpu)),
    }]));
    const grpcRatio = r2(figures.grpc!.rps / figures.upload!.rps);
    const batchRatio = r2(figures['grpc-x8']!.imagesPerS / figures['upload-c4']!.imagesPerS);
    perRound.push({ round, grpcRatio, batchRatio, figures });
    log(`  round ${round}: ModelInfer ÷ /upload req/s at c=16 = ${grpcRatio}; ModelInfer x8 ÷ /upload img/s at c=4 = ${batchRatio}`);
  }
} finally {
  await server.stop();
}
const load1 = os.loadavg();
const summary = {
  command: `make bench-grpc BENCH_ARGS="--duration ${durationS} --rounds ${rounds} --slices ${slices} --client ${opt.client}"`,
  node: process.version,
  cpus: `${os.cpus().length} × ${os.cpus()[0]?.model ?? '?'}`,
  loadAverage: { before: r2(load0[0]!), after: r2(load1[0]!) },
  grpcRatio: { median: median(perRound.map((r) => r.grpcRatio)), rounds: perRound.map((r) => r.grpcRatio), target: 1.0 },
  batchRatio: { median: median(perRound.map((r) => r.batchRatio)), rounds: perRound.map((r) => r.batchRatio), target: 1.2 },
  rounds: perRound,
};
log('');
log('| ratio | median | rounds | target |');
log('| --- | --- | --- | --- |');
log(`| ModelInfer (1 image) ÷ /upload, req/s at c=16 | **${summary.grpcRatio.median}** | ${summary.grpcRatio.rounds.join(', ')} | ≥ 1.0 |`);
log(`| ModelInfer (8 images) ÷ /upload, images/s at c=4 | **${summary.batchRatio.median}** | ${summary.batchRatio.rounds.join(', ')} | ≥ 1.2 |`);
log(`load average ${summary.loadAverage.before} → ${summary.loadAverage.after}; ${summary.cpus}; Node ${summary.node}`);
process.stdout.write(`${JSON.stringify(summary)}\n`);
