/**
 * `make bench-explain`: what `POST /explain` costs, measured in one run against one service
 * (`node dist/src/main.js`, AUTH_DISABLED=true, default settings) with the bench photos:
 *
 * 1. at idle, one client at a time: milliseconds per explanation and per upload, and their ratio;
 * 2. `/upload` alone at concurrency C (default 4) for D seconds: uploads per second and latency;
 * 3. the same uploads while one client explains photos back to back: uploads per second and
 *    latency again, explanations per second, and the ratios to (2).
 *
 * Prints the figures as text and, last, one JSON line. Options: `--duration D` (s, default 15),
 * `--concurrency C` (default 4), `--idle N` (explanations at idle, default 20).
 *
 * @example make bench-explain BENCH_ARGS="--duration 20"
 */
import { cpus, loadavg } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { rootDir } from '../../src/spec.js';
import type { LoadResult } from './load.js';
import { benchImageDir, benchServiceEnv, processFigures, runJson, startServer } from './processes.js';

const { values: opt } = parseArgs({
  options: {
    duration: { type: 'string', default: '15' },
    concurrency: { type: 'string', default: '4' },
    idle: { type: 'string', default: '20' },
    port: { type: 'string', default: '18231' },
  },
});
const durationS = Number(opt.duration);
const concurrency = Number(opt.concurrency);
const idleRuns = Number(opt.idle);
const port = Number(opt.port);
const loadScript = path.join(path.dirname(new URL(import.meta.url).pathname), 'load.js');

/** The load generator against `route` of the service. */
function load(route: '/upload' | '/explain', c: number, ...args: string[]): Promise<LoadResult> {
  return runJson<LoadResult>(process.execPath, [loadScript, '--url', `http://127.0.0.1:${port}${route}`, '-c', String(c), ...args, benchImageDir]);
}

const line = (text: string): void => void process.stdout.write(`${text}\n`);
const ratio = (a: number | null, b: number | null): number | null => (a === null || b === null || b === 0 ? null : Math.round((a / b) * 100) / 100);

const server = await startServer('service', process.execPath, [path.join(rootDir, 'dist', 'src', 'main.js')], port, '/health/ready', benchServiceEnv(port), rootDir);
try {
  // Other work on the machine moves every figure: say how busy it was.
  const load1 = (): string => loadavg()[0]!.toFixed(1);
  line(`bench-explain: service pid ${server.pid} on :${port}, ${cpus().length} cores, load average ${load1()}, photos from ${path.basename(path.dirname(benchImageDir))}/${path.basename(benchImageDir)}`);

  const idleExplain = await load('/explain', 1, '-n', String(idleRuns), '--warmup', '3');
  const idleUpload = await load('/upload', 1, '-n', String(idleRuns * 5), '--warmup', '10');
  line(`1. idle, one at a time: explanation p50 ${idleExplain.p50Ms} ms (p90 ${idleExplain.p90Ms}), upload p50 ${idleUpload.p50Ms} ms (p90 ${idleUpload.p90Ms}): ${ratio(idleExplain.p50Ms, idleUpload.p50Ms)} uploads' time per explanation`);

  const alone = await load('/upload', concurrency, '-d', String(durationS), '--warmup', String(concurrency * 4));
  line(`2. /upload alone, c=${concurrency}, ${alone.durationS} s: ${alone.rps} uploads/s, p50 ${alone.p50Ms} ms, p99 ${alone.p99Ms} ms, errors ${alone.errors}`);

  const cpuBefore = processFigures(server.pid).cpuMs;
  const [mixed, explaining] = await Promise.all([
    load('/upload', concurrency, '-d', String(durationS), '--warmup', String(concurrency * 4)),
    load('/explain', 1, '-d', String(durationS + 2)),
  ]);
  const cpuMs = processFigures(server.pid).cpuMs - cpuBefore;
  line(
    `3. /upload c=${concurrency} while one client explains back to back, ${mixed.durationS} s: ${mixed.rps} uploads/s, ` +
      `p50 ${mixed.p50Ms} ms, p99 ${mixed.p99Ms} ms, errors ${mixed.errors}; ${explaining.rps} explanations/s (p50 ${explaining.p50Ms} ms, errors ${explaining.errors})`,
  );
  line(
    `   uploads/s with explanations over alone: ${ratio(mixed.rps, alone.rps)}; upload p50 ${ratio(mixed.p50Ms, alone.p50Ms)}×, p99 ${ratio(mixed.p99Ms, alone.p99Ms)}×; ` +
      `service CPU ${Math.round(cpuMs / 10) / 100} s over the phase`,
  );
  line(`   load average at the end ${load1()}`);
  process.stdout.write(`${JSON.stringify({ idleExplain, idleUpload, alone, mixed, explaining, concurrency, durationS, loadAverage: loadavg() })}\n`);
} finally {
  await server.stop();
}
