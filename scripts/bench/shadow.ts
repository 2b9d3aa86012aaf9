/**
 * `make bench-shadow`: what a shadow candidate costs the answers (issue 26). Starts the compiled
 * service (AUTH_DISABLED=true, MODEL_CONTROL=explicit, the image's settings) on two copies of the
 * default model as `catdog` 1 and 2, pins version 1, warms it up, then alternates, `--rounds`
 * times, `--duration` seconds of `/upload` at each concurrency of `--concurrency` (16, and 1)
 * without a shadow and with version 2 as the shadow (`PUT /v2/repository/models/catdog/traffic`,
 * `SHADOW_SAMPLE_RATE=1`): interleaved, so that the machine's other work weighs on both alike.
 *
 * It prints, per concurrency: the p99, throughput and the service's CPU time per answer without
 * and with the shadow (the medians over the rounds) and their ratios (the CPU per answer is what
 * the shadow costs whatever else the shared machine runs; the p99 moves with that too), the versions that answered (every answer must be version
 * 1's), and the images the shadow classified or skipped (`catdog_shadow_comparisons_total`,
 * `catdog_shadow_skipped_total{reason="busy"}`): whether shadow work is shed when the machine
 * has no spare capacity. The target (issue 26): p99 with the shadow at most 1.10× without.
 *
 * Options: --duration S (10), --rounds N (2), --concurrency LIST (16,1), --warmup N (2000), --json FILE.
 */
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { rootDir } from '../../src/spec.js';
import type { LoadResult } from './load.js';
import { benchServiceEnv, processFigures, runLoad, startServer } from './processes.js';
import { resultFile } from './result-file.js';

const { values: opt } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '2' },
    concurrency: { type: 'string', default: '16,1' },
    warmup: { type: 'string', default: '2000' },
    json: { type: 'string' },
  },
});
const durationS = Number(opt.duration);
const rounds = Number(opt.rounds);
const concurrencies = opt.concurrency.split(',').map(Number);
const port = 18473;
const base = `http://127.0.0.1:${port}`;
const round2 = (x: number): number => Math.round(x * 100) / 100;
const median = (xs: readonly number[]): number => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};
const line = (text: string): void => void process.stdout.write(`${text}\n`);

async function call(method: string, route: string, body?: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(`${base}${route}`, {
    method,
    ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
  const answer = (await res.json()) as Record<string, unknown>;
  if (res.status !== 200) throw new Error(`${method} ${route}: ${res.status} ${JSON.stringify(answer)}`);
  return answer;
}

/** The shadow's counters now: images compared, and skipped for want of spare capacity. */
async function shadowCounts(): Promise<{ compared: number; shed: number }> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const sum = (prefix: string): number => text.split('\n').filter((l) => l.startsWith(prefix)).reduce((n, l) => n + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
  return { compared: sum('catdog_shadow_comparisons_total{'), shed: sum('catdog_shadow_skipped_total{model="catdog",version="2",reason="busy"}') };
}

interface Phase {
  readonly concurrency: number;
  readonly shadow: boolean;
  readonly round: number;
  readonly result: LoadResult;
  readonly compared: number;
  readonly shed: number;
  /** The service's CPU time (all threads) per answer in the phase, in ms: what the shadow costs, whatever the other load on the machine. */
  readonly cpuMsPerAnswer: number;
}

// Two versions of one model: the same files, two sessions (a retrained head of the same size would be as costly).
const repository = await mkdtemp(path.join(os.tmpdir(), 'bench-shadow-'));
const version1 = path.join(rootDir, 'resources', 'models', 'repository', 'catdog', '1');
await cp(version1, path.join(repository, 'catdog', '1'), { recursive: true });
await cp(version1, path.join(repository, 'catdog', '2'), { recursive: true });

const serviceEnv = benchServiceEnv(port, { MODEL_REPOSITORY: repository, MODEL_CONTROL: 'explicit', SHADOW_SAMPLE_RATE: '1' });
const server = await startServer('service', process.execPath, [path.join(rootDir, 'dist', 'src', 'main.js')], port, '/health/ready', serviceEnv);
try {
  const loadBefore = os.loadavg();
  // Version 1 answers throughout; version 2 stays loaded (the default policy keeps the newest) with or without the shadow.
  await call('POST', '/v2/repository/models/catdog/load', { parameters: { version: '1' } });
  await runLoad(port, 16, '-n', opt.warmup);
  const phases: Phase[] = [];
  for (let r = 0; r < rounds; r++) {
    for (const c of concurrencies) {
      // Alternate which goes first, so that neither always follows the other.
      for (const shadow of r % 2 === 0 ? [false, true] : [true, false]) {
        await call('PUT', '/v2/repository/models/catdog/traffic', { canary: null, shadow: shadow ? { version: '2' } : null });
        const before = await shadowCounts();
        const cpuBefore = processFigures(server.pid).cpuMs;
        const result = await runLoad(port, c, '-d', String(durationS), '--warmup', String(c * 2));
        // A shadow still running finishes after the phase: counted with it.
        await new Promise((resolve) => setTimeout(resolve, 200));
        const cpuMsPerAnswer = Math.round(((processFigures(server.pid).cpuMs - cpuBefore) / Math.max(1, result.ok + c * 2)) * 10) / 10;
        const after = await shadowCounts();
        phases.push({ concurrency: c, shadow, round: r, result, compared: after.compared - before.compared, shed: after.shed - before.shed, cpuMsPerAnswer });
        line(`  round ${r + 1}, c=${c}, shadow ${shadow ? 'on ' : 'off'}: ${result.rps} req/s, p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms, errors ${result.errors}, CPU ${cpuMsPerAnswer} ms/answer, versions ${JSON.stringify(result.versions)}${shadow ? `; shadow compared ${after.compared - before.compared}, shed ${after.shed - before.shed}` : ''}`);
      }
    }
  }
  const loadAfter = os.loadavg();

  const summary = concurrencies.map((c) => {
    const of = (shadow: boolean): Phase[] => phases.filter((p) => p.concurrency === c && p.shadow === shadow);
    const off = of(false);
    const on = of(true);
    const p99Off = Math.round(median(off.map((p) => p.result.p99Ms ?? NaN)) * 10) / 10;
    const p99On = Math.round(median(on.map((p) => p.result.p99Ms ?? NaN)) * 10) / 10;
    const rpsOff = median(off.map((p) => p.result.rps));
    const rpsOn = median(on.map((p) => p.result.rps));
    const answered = on.reduce((n, p) => n + p.result.ok, 0);
    const compared = on.reduce((n, p) => n + p.compared, 0);
    const shed = on.reduce((n, p) => n + p.shed, 0);
    const cpuOff = median(off.map((p) => p.cpuMsPerAnswer));
    const cpuOn = median(on.map((p) => p.cpuMsPerAnswer));
    const versions = [...new Set(phases.filter((p) => p.concurrency === c).flatMap((p) => Object.keys(p.result.versions)))].sort();
    const errors = phases.filter((p) => p.concurrency === c).reduce((n, p) => n + p.result.errors, 0);
    return { concurrency: c, p99Off, p99On, p99Ratio: round2(p99On / p99Off), rpsOff, rpsOn, rpsRatio: round2(rpsOn / rpsOff), cpuOff, cpuOn, cpuRatio: round2(cpuOn / cpuOff), answeredWithShadow: answered, compared, shed, versions, errors };
  });
  const report = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: os.cpus().length,
    loadAverage: { before: loadBefore.map(round2), after: loadAfter.map(round2) },
    durationS,
    rounds,
    summary,
    phases: phases.map(({ result, ...p }) => ({ ...p, rps: result.rps, p50Ms: result.p50Ms, p99Ms: result.p99Ms, errors: result.errors, versions: result.versions })),
  };
  const file = opt.json ?? resultFile('shadow', new Date(report.date));
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  line(`shadow traffic: /upload with and without version 2 as the shadow of version 1, interleaved, ${rounds} rounds of ${durationS} s (${process.version}, ${os.cpus().length} CPUs, load average ${report.loadAverage.before.join(' ')} → ${report.loadAverage.after.join(' ')}; SHADOW_SAMPLE_RATE=1)`);
  for (const s of summary) {
    const share = s.answeredWithShadow ? Math.round((s.compared / s.answeredWithShadow) * 1000) / 10 : 0;
    line(
      `  c=${s.concurrency}: p99 ${s.p99Off} → ${s.p99On} ms (×${s.p99Ratio}, target ≤ 1.10), ${s.rpsOff} → ${s.rpsOn} req/s (×${s.rpsRatio}), service CPU ${s.cpuOff} → ${s.cpuOn} ms per answer (×${s.cpuRatio}); `
      + `answers by version ${s.versions.join(', ')}, ${s.errors} errors; with the shadow ${s.compared} of ${s.answeredWithShadow} answers compared (${share} %), ${s.shed} shed for want of spare capacity`,
    );
  }
  line(`  raw figures: ${file}`);
  process.exitCode = summary.every((s) => s.errors === 0 && s.versions.join() === '1') ? 0 : 1;
} finally {
  await server.stop();
  await rm(repository, { recursive: true, force: true });
}
