/**
 * The bare pipeline, the service's ceiling: decode, resize, normalise, infer and post-process
 * in-process, with no HTTP, through the same `loadClassifier` and the same settings (read from
 * the environment by `loadConfig`, as the service reads them), C callers in a closed loop.
 *
 * @example AUTH_DISABLED=true node .bench/build/scripts/bench/bare.js -c 16 -d 15 IMAGE_DIR
 * Prints one JSON line: images/s, latency quantiles, CPU milliseconds per image (all threads, the
 * main thread's alone, and by thread name), V8's garbage collections per 1,000 images by kind (as
 * prom-client counts the service's), and the measured window on the monotonic clock (µs, V8's CPU
 * profiles' clock: `make bench-profile` cuts a `--cpu-prof` profile to it).
 */
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { loadConfig } from '../../src/config/config.js';
import { loadClassifier } from '../../src/model/classifier.js';
import { loadManifest } from '../../src/model/manifest.js';
import { compareVersions, scanRepository } from '../../src/repository/layout.js';
import { loadImages } from './images.js';
import { threadCpuByName, threadCpuMs, threadCpuPer } from './threads.js';

const { values: opt, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    concurrency: { type: 'string', short: 'c', default: '16' },
    duration: { type: 'string', short: 'd', default: '15' },
    warmup: { type: 'string', default: '32' },
  },
});
const concurrency = Number(opt.concurrency);
const durationMs = Number(opt.duration) * 1000;

const config = loadConfig();
const { models } = config;
const images = await loadImages(positionals[0]!);
// The default model's newest version, as the service would serve it.
const versions = (await scanRepository(models.repositoryPath)).get(models.defaultModel);
const newest = [...(versions?.keys() ?? [])].sort(compareVersions).at(-1);
const manifestPath = models.manifestPath ?? versions?.get(newest ?? '')?.manifestPath;
if (manifestPath === undefined) throw new Error(`no version of ${models.defaultModel} in ${models.repositoryPath}: run make model`);
const classifier = await loadClassifier(await loadManifest(manifestPath), config.images, config.engine);

/** This process's main thread's CPU time in ms (Linux: its thread id is the pid); undefined elsewhere. */
function mainThreadCpuMs(): number | undefined {
  try {
    return threadCpuMs(process.pid);
  } catch {
    return undefined;
  }
}

let next = 0;
async function loop(until: () => boolean, record: (ms: number) => void): Promise<void> {
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (!until()) {
        const started = performance.now();
        await classifier.classify(images[next++ % images.length]!.bytes);
        record(performance.now() - started);
      }
    }),
  );
}

let warm = Number(opt.warmup);
await loop(() => warm-- <= 0, () => {});

/** V8's collections on this thread in the window, by kind: prom-client's names for the same performance entries. */
const GC_KINDS: Readonly<Record<number, string>> = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
};
const collections: Record<string, number> = {};
const gcObserver = new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    const kind = GC_KINDS[(entry as unknown as { detail?: { kind?: number } }).detail?.kind ?? -1] ?? 'other';
    collections[kind] = (collections[kind] ?? 0) + 1;
  }
});
gcObserver.observe({ entryTypes: ['gc'] });

const latencies: number[] = [];
const threadsBefore = threadCpuByName(process.pid);
const cpuBefore = process.cpuUsage();
const mainBefore = mainThreadCpuMs();
const windowStartUs = Number(process.hrtime.bigint() / 1000n);
const start = performance.now();
await loop(() => performance.now() - start >= durationMs, (ms) => latencies.push(ms));
const elapsedS = (performance.now() - start) / 1000;
const cpu = process.cpuUsage(cpuBefore);
const mainAfter = mainThreadCpuMs();
const threadsAfter = threadCpuByName(process.pid);
const windowEndUs = Number(process.hrtime.bigint() / 1000n);
gcObserver.disconnect();
await classifier.close();

latencies.sort((a, b) => a - b);
const round = (x: number): number => Math.round(x * 10) / 10;
const quantile = (q: number): number => round(latencies[Math.min(latencies.length - 1, Math.ceil(q * latencies.length) - 1)]!);
process.stdout.write(
  `${JSON.stringify({
    concurrency,
    durationS: round(elapsedS),
    ok: latencies.length,
    errors: 0,
    rps: round(latencies.length / elapsedS),
    p50Ms: quantile(0.5),
    p90Ms: quantile(0.9),
    p99Ms: quantile(0.99),
    cpuMsPerImage: round((cpu.user + cpu.system) / 1000 / latencies.length),
    ...(mainBefore === undefined || mainAfter === undefined ? {} : { mainThreadCpuMsPerImage: Math.round(((mainAfter - mainBefore) / latencies.length) * 100) / 100 }),
    threadCpuMsPerImage: threadCpuPer(threadsBefore, threadsAfter, latencies.length),
    collectionsPerThousand: Object.fromEntries(Object.entries(collections).map(([kind, n]) => [kind, round((n * 1000) / latencies.length)])),
    monotonicWindowUs: [windowStartUs, windowEndUs],
  })}\n`,
);
