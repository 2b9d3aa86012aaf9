/**
 * `make bench-swap`: hot swaps under load (issue 15). Starts the compiled service
 * (AUTH_DISABLED=true, MODEL_CONTROL=explicit) on a copy of the default model as versions 1 and
 * 2 of `catdog`, then, at concurrency 16:
 *
 * 0. `--warmup` uploads (5,000, as `make bench-memory`): the process's memory grows for its
 *    first few thousand requests, then levels off; measured before that, a swap's growth would
 *    be mixed with it;
 * 1. a steady run (no swap) for `--duration` seconds: the steady p99;
 * 2. the same run while the management API swaps `--swaps` times between the two versions,
 *    spread over the run: `unload` of version 2 (version 1 is loaded beside it, checked, warmed
 *    up, switched to; version 2 is closed once idle), then `load` (version 2 again), and so on.
 *
 * It prints, from that one run: failed requests, the versions that answered, the p99 of the
 * requests that overlapped a swap against the steady p99 (target ≤ 2×), and the resident memory
 * once the last replaced version was released against before the first swap (target within
 * 20 MiB), with the load average (the machine is shared) and the memory settings. Exit status 1
 * when a target is missed.
 *
 * Options: --duration S (20), --swaps N (10), --concurrency C (16), --warmup N (5000), --json FILE.
 */
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { rootDir } from '../../src/spec.js';
import { benchServiceEnv, memorySettings, processFigures, runLoad, startServer } from './processes.js';
import { resultFile } from './result-file.js';

const { values: opt } = parseArgs({
  options: {
    duration: { type: 'string', default: '20' },
    swaps: { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '16' },
    warmup: { type: 'string', default: '5000' },
    json: { type: 'string' },
  },
});
const durationS = Number(opt.duration);
const swaps = Number(opt.swaps);
const concurrency = Number(opt.concurrency);
const port = 18471;
const base = `http://127.0.0.1:${port}`;
const round = (x: number, digits = 1): number => Math.round(x * 10 ** digits) / 10 ** digits;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const p99 = (xs: readonly number[]): number | null => {
  if (xs.length === 0) return null;
  const sorted = [...xs].sort((a, b) => a - b);
  return round(sorted[Math.min(sorted.length - 1, Math.ceil(0.99 * sorted.length) - 1)]!);
};

interface IndexLine {
  readonly version: string;
  readonly state: string;
}

async function manage(action: 'load' | 'unload', version?: string): Promise<{ status: number; serving?: string }> {
  const res = await fetch(`${base}/v2/repository/models/catdog/${action}`, {
    method: 'POST',
    ...(version === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ parameters: { version } }) }),
  });
  const body = (await res.json()) as { serving?: string };
  return { status: res.status, ...(body.serving === undefined ? {} : { serving: body.serving }) };
}

async function catdogIndex(): Promise<IndexLine[]> {
  const res = await fetch(`${base}/v2/repository/index`, { method: 'POST' });
  return ((await res.json()) as (IndexLine & { name: string })[]).filter((e) => e.name === 'catdog');
}

/** Waits until no version of catdog is LOADING or UNLOADING: the last replaced one is closed. */
async function settled(): Promise<void> {
  const deadline = Date.now() + 60_000;
  while ((await catdogIndex()).some((e) => e.state === 'LOADING' || e.state === 'UNLOADING')) {
    if (Date.now() > deadline) throw new Error('versions still loading or unloading after 60 s');
    await sleep(100);
  }
}

// Two versions of one model: the same files, two sessions, as a retrained head of the same size would be.
const repository = await mkdtemp(path.join(os.tmpdir(), 'bench-swap-'));
const version1 = path.join(rootDir, 'resources', 'models', 'repository', 'catdog', '1');
await cp(version1, path.join(repository, 'catdog', '1'), { recursive: true });
await cp(version1, path.join(repository, 'catdog', '2'), { recursive: true });

const serviceEnv = benchServiceEnv(port, { MODEL_REPOSITORY: repository, MODEL_CONTROL: 'explicit' });
const server = await startServer('service', process.execPath, [path.join(rootDir, 'dist', 'src', 'main.js')], port, '/health/ready', serviceEnv);
try {
  const loadBefore = os.loadavg();
  await runLoad(port, concurrency, '-n', String(Number(opt.warmup)));
  await sleep(2000);
  // The steady run is also the control: how much the process grows in as long without a swap.
  const rssBeforeSteadyMiB = processFigures(server.pid).rssMiB;
  const steady = await runLoad(port, concurrency, '-d', String(durationS));
  await settled();
  await sleep(2000);
  const rssBeforeMiB = processFigures(server.pid).rssMiB;

  // The swaps, spread over the run after a second of load.
  const swapLog: { action: string; startedAt: number; endedAt: number; status: number; serving?: string; rssMiB: number }[] = [];
  const swapping = (async () => {
    await sleep(1000);
    const spacingMs = ((durationS - 2) * 1000) / swaps;
    for (let i = 0; i < swaps; i++) {
      const startedAt = Date.now();
      const action = i % 2 === 0 ? 'unload' : 'load';
      const answer = action === 'unload' ? await manage('unload', '2') : await manage('load');
      swapLog.push({ action: action === 'unload' ? 'unload version 2 (→ 1)' : 'load newest (→ 2)', startedAt, endedAt: Date.now(), ...answer, rssMiB: round(processFigures(server.pid).rssMiB) });
      await sleep(Math.max(0, startedAt + spacingMs - Date.now()));
    }
  })();
  const during = await runLoad(port, concurrency, '-d', String(durationS), '--timeline');
  await swapping;
  await settled();
  await sleep(2000);
  const rssAfterMiB = processFigures(server.pid).rssMiB;
  const loadAfter = os.loadavg();

  // The requests that were in flight at some point of a swap: from the API call to its answer
  // (the new version loads, is checked and switched to), plus the old version's release.
  const overlapping = (during.timeline ?? []).filter(([at, ms]) => swapLog.some((s) => at <= s.endedAt + 250 && at + ms >= s.startedAt));
  const swapP99 = p99(overlapping.filter(([, , error]) => error === '').map(([, ms]) => ms));
  const ratio = swapP99 !== null && steady.p99Ms ? round(swapP99 / steady.p99Ms, 2) : null;
  const growthMiB = round(rssAfterMiB - rssBeforeMiB);
  const versions = Object.keys(during.versions).sort();
  const ok = during.errors === 0 && steady.errors === 0 && versions.every((v) => v === '1' || v === '2')
    && swapLog.every((s) => s.status === 200) && ratio !== null && ratio <= 2 && growthMiB <= 20;
  const report = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: os.cpus().length,
    loadAverage: { before: loadBefore.map((l) => round(l, 2)), after: loadAfter.map((l) => round(l, 2)) },
    memorySettings: memorySettings(serviceEnv),
    concurrency,
    warmupRequests: Number(opt.warmup),
    durationS,
    steady: { requests: steady.ok + steady.errors, errors: steady.errors, rps: steady.rps, p50Ms: steady.p50Ms, p99Ms: steady.p99Ms },
    swapping: {
      requests: during.ok + during.errors,
      errors: during.errors,
      errorKinds: during.errorKinds,
      versions: during.versions,
      rps: during.rps,
      p50Ms: during.p50Ms,
      p99Ms: during.p99Ms,
      overlappingRequests: overlapping.length,
      overlappingP99Ms: swapP99,
      p99RatioToSteady: ratio,
    },
    swaps: swapLog.map((s) => ({ action: s.action, ms: s.endedAt - s.startedAt, status: s.status, serving: s.serving, rssMiB: s.rssMiB })),
    rssBeforeSteadyMiB: round(rssBeforeSteadyMiB),
    steadyGrowthMiB: round(rssBeforeMiB - rssBeforeSteadyMiB),
    rssBeforeFirstSwapMiB: round(rssBeforeMiB),
    rssAfterLastReleaseMiB: round(rssAfterMiB),
    growthMiB,
    ok,
  };
  const file = opt.json ?? resultFile('swap', new Date(report.date));
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  const swapMs = swapLog.map((s) => s.endedAt - s.startedAt);
  process.stdout.write(
    [
      `hot swaps under load: c=${concurrency}, ${report.warmupRequests} warm-up uploads, ${durationS} s steady then ${durationS} s with ${swaps} swaps between catdog 1 and 2 (${process.version}, ${os.cpus().length} CPUs, load average ${report.loadAverage.before.join(' ')} → ${report.loadAverage.after.join(' ')}; ${Object.entries(report.memorySettings).map(([name, value]) => `${name}=${value ?? '(unset)'}`).join(', ')})`,
      `  failed requests: ${during.errors} of ${during.ok + during.errors} during the swaps (${steady.errors} of ${steady.ok + steady.errors} steady)${during.errors ? ` ${JSON.stringify(during.errorKinds)}` : ''}`,
      `  answers by version: ${versions.map((v) => `${v || '(none)'}: ${during.versions[v]}`).join(', ')}`,
      `  swaps: ${swapLog.filter((s) => s.status === 200).length}/${swaps} answered 200, ${Math.min(...swapMs)}-${Math.max(...swapMs)} ms each (load, checks, warm-up, switch)`,
      `  p99: steady ${steady.p99Ms} ms; requests overlapping a swap (${overlapping.length}) ${swapP99} ms (×${ratio}, target ≤ 2); whole swap run ${during.p99Ms} ms`,
      `  throughput: steady ${steady.rps} req/s, during the swaps ${during.rps} req/s`,
      `  resident memory: ${report.rssBeforeFirstSwapMiB} MiB before the first swap, ${report.rssAfterLastReleaseMiB} MiB after the last release (${growthMiB >= 0 ? '+' : ''}${growthMiB} MiB, target ≤ 20); after each swap: ${swapLog.map((s) => s.rssMiB).join(', ')}`,
      `  control: the steady run alone, as long without a swap, ${report.rssBeforeSteadyMiB} → ${report.rssBeforeFirstSwapMiB} MiB (${report.steadyGrowthMiB >= 0 ? '+' : ''}${report.steadyGrowthMiB} MiB)`,
      `  -> ${ok ? 'targets met' : 'TARGET MISSED'}; raw figures: ${file}`,
      '',
    ].join('\n'),
  );
  process.exitCode = ok ? 0 : 1;
} finally {
  await server.stop();
  await rm(repository, { recursive: true, force: true });
}
