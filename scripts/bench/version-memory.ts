/**
 * `make bench-version-memory`: the resident memory each loaded version of the default model costs
 * (issue 26, which the version policy trades against). Starts the compiled service
 * (AUTH_DISABLED=true, MODEL_CONTROL=explicit, the image's settings) on three copies of the
 * default model as `catdog` 1, 2 and 3 with `version_policy` `latest 1`, then 2, then 3 (each
 * applied by `POST /v2/repository/models/catdog/load`), and after each: `--requests` uploads of
 * the bench photos to every loaded version (`?version=`), a pause, and the process's resident
 * memory. Prints the memory with 1, 2 and 3 versions loaded and the differences.
 *
 * Options: --requests N (300 per version), --settle MS (3000), --json FILE.
 */
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { rootDir } from '../../src/spec.js';
import type { LoadResult } from './load.js';
import { benchImageDir, benchServiceEnv, processFigures, runJson, startServer } from './processes.js';
import { resultFile } from './result-file.js';

const { values: opt } = parseArgs({
  options: {
    requests: { type: 'string', default: '300' },
    settle: { type: 'string', default: '3000' },
    json: { type: 'string' },
  },
});
const port = 18475;
const base = `http://127.0.0.1:${port}`;
const round = (x: number): number => Math.round(x * 10) / 10;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const line = (text: string): void => void process.stdout.write(`${text}\n`);
const loadScript = path.join(path.dirname(new URL(import.meta.url).pathname), 'load.js');

const repository = await mkdtemp(path.join(os.tmpdir(), 'bench-version-memory-'));
const version1 = path.join(rootDir, 'resources', 'models', 'repository', 'catdog', '1');
for (const v of ['1', '2', '3']) await cp(version1, path.join(repository, 'catdog', v), { recursive: true });
const policy = (n: number): Promise<void> =>
  writeFile(path.join(repository, 'catdog', 'config.json'), JSON.stringify({ version_policy: { latest: { num_versions: n } } }));
await policy(1);

const server = await startServer('service', process.execPath, [path.join(rootDir, 'dist', 'src', 'main.js')], port, '/health/ready',
  benchServiceEnv(port, { MODEL_REPOSITORY: repository, MODEL_CONTROL: 'explicit' }));
try {
  const figures: { versions: number; rssMiB: number }[] = [];
  for (const n of [1, 2, 3]) {
    await policy(n);
    const res = await fetch(`${base}/v2/repository/models/catdog/load`, { method: 'POST' });
    const status = (await res.json()) as { versions: { version: string; state: string }[] };
    const ready = status.versions.filter((v) => v.state === 'READY').map((v) => v.version);
    if (ready.length !== n) throw new Error(`expected ${n} READY versions, got ${JSON.stringify(status.versions)}`);
    // Every loaded version runs (its session's buffers and its worker's arena are what a version costs).
    for (const v of ready) {
      const result = await runJson<LoadResult>(process.execPath, [loadScript, '--url', `${base}/upload?version=${v}`, '-c', '4', '-n', opt.requests, benchImageDir]);
      if (result.errors > 0) throw new Error(`version ${v}: ${result.errors} errors`);
    }
    await sleep(Number(opt.settle));
    figures.push({ versions: n, rssMiB: round(processFigures(server.pid).rssMiB) });
  }
  const perVersion = figures.slice(1).map((f, i) => round(f.rssMiB - figures[i]!.rssMiB));
  const report = { date: new Date().toISOString(), node: process.version, cpus: os.cpus().length, loadAverage: os.loadavg().map(round), requestsPerVersion: Number(opt.requests), figures, perVersionMiB: perVersion };
  const file = opt.json ?? resultFile('version-memory', new Date(report.date));
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  line(`memory per loaded version of catdog (${process.version}, load average ${report.loadAverage.join(' ')}; ${opt.requests} uploads to each loaded version before each reading):`);
  line(`  resident memory with ${figures.map((f) => `${f.versions} loaded: ${f.rssMiB} MiB`).join(', ')}`);
  line(`  each more version: ${perVersion.map((d) => `+${d} MiB`).join(', ')}; raw figures: ${file}`);
} finally {
  await server.stop();
  await rm(repository, { recursive: true, force: true });
}
