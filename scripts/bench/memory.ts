/**
 * `make bench-memory`: resident memory stays flat. Starts the compiled service
 * (AUTH_DISABLED=true, the Docker image's ENV), warms it up, samples its RSS every 5 s while it
 * sends 20,000 uploads at concurrency 16, and fails when the median of the last minute's samples
 * is more than 32 MiB above the first minute's. The RSS from just before to just after the load
 * is reported too, not judged: since each upload's bytes are given back when it is answered
 * (`src/release-bytes.ts`), V8 mostly runs a full collection every ≈ 1,500–4,000 uploads
 * instead of every ≈ 150–250, and its heap saws between ≈ 50 and 150 MiB in use; two single samples differ by
 * as much as the sawtooth's phase (+68 and +90 MiB in two runs whose minute medians moved +25 and
 * +17). Since the decoded pixels are released too, the RSS swung by ≈ 16 MiB instead of ≈ 55 (one
 * run, 5 s samples); the heap was not watched again.
 *
 * The warm-up is 15,000 uploads. On Node 26, after 1,000 the RSS was still climbing to its level
 * (in six runs by 8 to 52 MiB, within the first 5 to 90 s of the measured load, then flat), which
 * counted as growth; 5,000 were enough then (two runs: -0.7 and -1.1 MiB). Since the release, the
 * RSS reached its level after ≈ 11,000–12,500 uploads (two runs, Node 24: 5 s samples).
 *
 * Options: --requests N (default 20000), --concurrency C (16), --warmup N (15000), --limit-mib M (32).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { rootDir } from '../../src/spec.js';
import { benchServiceEnv, memorySettings, processFigures, runLoad, startServer } from './processes.js';
import { resultFile } from './result-file.js';

const { values: opt } = parseArgs({
  options: {
    requests: { type: 'string', default: '20000' },
    concurrency: { type: 'string', default: '16' },
    warmup: { type: 'string', default: '15000' },
    'limit-mib': { type: 'string', default: '32' },
    json: { type: 'string' },
  },
});
const port = 18470;
const load = (requests: string) => runLoad(port, Number(opt.concurrency), '-n', requests);

const serviceEnv = benchServiceEnv(port);
const server = await startServer('service', process.execPath, [path.join(rootDir, 'dist', 'src', 'main.js')], port, '/health', serviceEnv);
try {
  const warm = await load(opt.warmup);
  const before = processFigures(server.pid);
  const samples: number[] = [];
  const timer = setInterval(() => samples.push(Math.round(processFigures(server.pid).rssMiB)), 5000);
  const run = await load(opt.requests);
  clearInterval(timer);
  const after = processFigures(server.pid);
  // RSS saws up and down by tens of MiB as V8 and malloc release memory: the medians of the
  // first and last minute of samples are judged, the end-to-end difference only reported.
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
  const trendMiB = median(samples.slice(-12)) - median(samples.slice(0, 12));
  const growthMiB = Math.round((after.rssMiB - before.rssMiB) * 10) / 10;
  const limitMiB = Number(opt['limit-mib']);
  const ok = trendMiB <= limitMiB && run.errors === 0 && warm.errors === 0;
  const report = {
    date: new Date().toISOString(),
    // The service runs on this same node binary and environment; these change its memory.
    node: process.version,
    memorySettings: memorySettings(serviceEnv),
    requests: run.ok + run.errors,
    concurrency: Number(opt.concurrency),
    warmupRequests: Number(opt.warmup),
    rssBeforeMiB: Math.round(before.rssMiB * 10) / 10,
    rssAfterMiB: Math.round(after.rssMiB * 10) / 10,
    peakRssMiB: Math.round(after.peakRssMiB * 10) / 10,
    growthMiB,
    firstToLastMinuteMedianMiB: trendMiB,
    limitMiB,
    rssSamplesMiB: samples,
    load: run,
    ok,
  };
  const file = opt.json ?? resultFile('memory', new Date(report.date));
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(
    `RSS after ${opt.warmup} warm-up requests ${report.rssBeforeMiB} MiB; after ${report.requests} more at c=${opt.concurrency} ` +
      `${report.rssAfterMiB} MiB (peak ${report.peakRssMiB}); growth, medians of the first and last minute: ${trendMiB} MiB ` +
      `(limit ${limitMiB} MiB; just before and just after the load: ${growthMiB} MiB, not judged); ` +
      `${run.errors} errors, ${run.rps} req/s -> ${ok ? 'flat' : 'NOT flat'}\nraw figures: ${file}\n`,
  );
  process.exitCode = ok ? 0 : 1;
} finally {
  await server.stop();
}
