/**
 * `make bench-tracing`: what OpenTelemetry tracing costs `/upload` throughput, measured in one run
 * on three services started side by side and loaded in turn, in interleaved slices, so that a
 * shared machine's load falls on all alike:
 *
 * - `base`: the service as built from `--baseline` (default: where this branch left `main`), without this work;
 * - `off`: this build with tracing off (the default);
 * - `on`: this build exporting every request's spans (sampler always_on, OTLP http/protobuf) to
 *   a receiver in this process, which answers 200 and counts the export requests.
 *
 * Each round loads each service for `--duration / --slices` seconds per slice at c=`--concurrency`
 * and gives off ÷ base (target 1.00 ± 0.02) and on ÷ off, of the throughput and of the service's
 * CPU time per request (all its threads; steadier than throughput on a shared machine); the
 * medians of the rounds are printed last, with the command's settings.
 *
 *   make bench-tracing BENCH_ARGS="--duration 12 --rounds 3 --concurrency 16"
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, symlinkSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { rootDir } from '../../src/spec.js';
import type { LoadResult } from './load.js';
import { benchServiceEnv, processFigures, runLoad, startServer, type Server } from './processes.js';

const { values: opt } = parseArgs({
  options: {
    duration: { type: 'string', default: '12' },
    rounds: { type: 'string', default: '3' },
    slices: { type: 'string', default: '2' },
    concurrency: { type: 'string', default: '16' },
    warmup: { type: 'string', default: '400' },
    // Default: where this branch left main (`git merge-base main HEAD`), so that only this work differs.
    baseline: { type: 'string', default: '' },
  },
});
const durationS = Number(opt.duration);
const rounds = Number(opt.rounds);
const slices = Number(opt.slices);
const concurrency = Number(opt.concurrency);
const log = (line: string): void => void process.stderr.write(`${line}\n`);
const r3 = (x: number): number => Math.round(x * 1000) / 1000;
const median = (xs: readonly number[]): number => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/**
 * The baseline's build: its sources from git, built with this checkout's compiler, its
 * node_modules and its models (a superset of what the baseline needs), once per commit.
 */
function baselineBuild(ref: string): string {
  const sha = execFileSync('git', ['rev-parse', ref], { cwd: rootDir, encoding: 'utf8' }).trim();
  const dir = path.join(rootDir, '.bench', 'baseline', sha);
  if (existsSync(path.join(dir, 'dist', 'src', 'main.js'))) return dir;
  log(`baseline: building ${ref} (${sha.slice(0, 10)}) in ${path.relative(rootDir, dir)}`);
  mkdirSync(dir, { recursive: true });
  execFileSync('sh', ['-c', `git archive ${sha} | tar -x -C '${dir}'`], { cwd: rootDir, stdio: 'inherit' });
  if (!existsSync(path.join(dir, 'node_modules'))) symlinkSync(path.join(rootDir, 'node_modules'), path.join(dir, 'node_modules'));
  // The built models (weights are not committed): hard-linked file by file beside the committed manifests.
  execFileSync('cp', ['-rln', `${path.join(rootDir, 'resources', 'models')}/.`, path.join(dir, 'resources', 'models')], { stdio: 'inherit' });
  execFileSync(path.join(rootDir, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.build.json'], { cwd: dir, stdio: 'inherit' });
  return dir;
}

/** An OTLP/HTTP receiver that accepts every export and counts them. */
async function startReceiver(): Promise<{ url: string; exports: () => number; bytes: () => number; close: () => Promise<void> }> {
  let exports = 0;
  let bytes = 0;
  const server = http.createServer((req, res) => {
    req.on('data', (c: Buffer) => (bytes += c.length));
    req.on('end', () => {
      exports++;
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    exports: () => exports,
    bytes: () => bytes,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

const node = process.execPath;
const baselineRef = opt.baseline || execFileSync('git', ['merge-base', 'main', 'HEAD'], { cwd: rootDir, encoding: 'utf8' }).trim();
const base = baselineBuild(baselineRef);
const receiver = await startReceiver();
const load0 = os.loadavg();
const servers: Server[] = [];
const perRound: { round: number; offOverBase: number; onOverOff: number; cpuOffOverBase: number; cpuOnOverOff: number; rps: Record<string, number>; cpuMsPerRequest: Record<string, number> }[] = [];
try {
  servers.push(await startServer('base', node, [path.join(base, 'dist', 'src', 'main.js')], 18590, '/health/ready', benchServiceEnv(18590), { cwd: base }));
  servers.push(await startServer('off', node, [path.join('dist', 'src', 'main.js')], 18591, '/health/ready', benchServiceEnv(18591)));
  servers.push(await startServer('on', node, [path.join('dist', 'src', 'main.js')], 18592, '/health/ready', benchServiceEnv(18592, {
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
    OTEL_TRACES_SAMPLER: 'always_on',
  })));
  for (const server of servers) {
    log(`${server.name}: warming up (${opt.warmup} uploads at c=${concurrency})`);
    await runLoad(server.port, concurrency, '-n', String(opt.warmup));
  }
  for (let round = 1; round <= rounds; round++) {
    log(`round ${round}/${rounds}`);
    const totals = new Map<string, { ok: number; seconds: number; errors: number; cpuMs: number; served: number }>(servers.map((s) => [s.name, { ok: 0, seconds: 0, errors: 0, cpuMs: 0, served: 0 }]));
    for (let slice = 1; slice <= slices; slice++) {
      // Each slice starts with another service, so that none always follows the same one.
      const order = servers.map((_, i) => servers[(i + round + slice) % servers.length]!);
      for (const server of order) {
        const warmup = 4 * concurrency;
        const before = processFigures(server.pid).cpuMs;
        const result: LoadResult = await runLoad(server.port, concurrency, '--warmup', String(warmup), '-d', String(durationS / slices));
        // The server's CPU (every thread) over the slice, its warm-up requests counted in: less
        // sensitive than throughput to what else the machine runs.
        const cpuMs = processFigures(server.pid).cpuMs - before;
        const t = totals.get(server.name)!;
        totals.set(server.name, { ok: t.ok + result.ok, seconds: t.seconds + result.durationS, errors: t.errors + result.errors, cpuMs: t.cpuMs + cpuMs, served: t.served + result.ok + warmup });
        log(`  ${server.name.padEnd(4)} c=${concurrency}  ${String(result.rps).padStart(7)} req/s  p99 ${result.p99Ms} ms  errors ${result.errors}`);
      }
    }
    const rps = Object.fromEntries([...totals].map(([name, t]) => [name, Math.round((t.ok / t.seconds) * 10) / 10]));
    const cpuMsPerRequest = Object.fromEntries([...totals].map(([name, t]) => [name, Math.round((t.cpuMs / t.served) * 100) / 100]));
    const offOverBase = r3(rps.off! / rps.base!);
    const onOverOff = r3(rps.on! / rps.off!);
    const cpuOffOverBase = r3(cpuMsPerRequest.off! / cpuMsPerRequest.base!);
    const cpuOnOverOff = r3(cpuMsPerRequest.on! / cpuMsPerRequest.off!);
    perRound.push({ round, offOverBase, onOverOff, cpuOffOverBase, cpuOnOverOff, rps, cpuMsPerRequest });
    log(`  round ${round}: req/s off ÷ base = ${offOverBase}, on ÷ off = ${onOverOff}; CPU ms per request ${JSON.stringify(cpuMsPerRequest)}: off ÷ base = ${cpuOffOverBase}, on ÷ off = ${cpuOnOverOff}`);
  }
} finally {
  for (const server of servers) await server.stop();
  await receiver.close();
}
const load1 = os.loadavg();
const summary = {
  command: `make bench-tracing BENCH_ARGS="--duration ${durationS} --rounds ${rounds} --slices ${slices} --concurrency ${concurrency} --baseline ${baselineRef.slice(0, 10)}"`,
  node: process.version,
  cpus: `${os.cpus().length} × ${os.cpus()[0]?.model ?? '?'}`,
  loadAverage: { before: Math.round(load0[0]! * 100) / 100, after: Math.round(load1[0]! * 100) / 100 },
  offOverBase: { median: median(perRound.map((r) => r.offOverBase)), rounds: perRound.map((r) => r.offOverBase), target: '1.00 ± 0.02' },
  onOverOff: { median: median(perRound.map((r) => r.onOverOff)), rounds: perRound.map((r) => r.onOverOff) },
  cpuOffOverBase: { median: median(perRound.map((r) => r.cpuOffOverBase)), rounds: perRound.map((r) => r.cpuOffOverBase), target: '1.00 ± 0.02' },
  cpuOnOverOff: { median: median(perRound.map((r) => r.cpuOnOverOff)), rounds: perRound.map((r) => r.cpuOnOverOff) },
  exports: { requests: receiver.exports(), bytes: receiver.bytes() },
  rounds: perRound,
};
log('');
log('| ratio | median | rounds | target |');
log('| --- | --- | --- | --- |');
log(`| tracing off ÷ ${baselineRef.slice(0, 10)}, /upload req/s at c=${concurrency} | **${summary.offOverBase.median}** | ${summary.offOverBase.rounds.join(', ')} | 1.00 ± 0.02 |`);
log(`| tracing on ÷ off, /upload req/s at c=${concurrency} | **${summary.onOverOff.median}** | ${summary.onOverOff.rounds.join(', ')} | (the cost of tracing) |`);
log(`| tracing off ÷ ${baselineRef.slice(0, 10)}, service CPU per request | **${summary.cpuOffOverBase.median}** | ${summary.cpuOffOverBase.rounds.join(', ')} | 1.00 ± 0.02 |`);
log(`| tracing on ÷ off, service CPU per request | **${summary.cpuOnOverOff.median}** | ${summary.cpuOnOverOff.rounds.join(', ')} | (the cost of tracing) |`);
log(`export requests received: ${summary.exports.requests} (${Math.round(summary.exports.bytes / 1024)} KiB); load average ${summary.loadAverage.before} → ${summary.loadAverage.after}; ${summary.cpus}; Node ${summary.node}`);
process.stdout.write(`${JSON.stringify(summary)}\n`);
