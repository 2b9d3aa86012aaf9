/**
 * Closed-loop load generator for the upload contract, run as its own process so that its CPU
 * is not the server's: C connections each send one multipart upload at a time for D seconds.
 * Same load model and pass rule as ../shared/bench/load.mjs (HTTP 200 with a JSON
 * `prediction`), so the service and the peer are measured by one tool.
 *
 * @example node dist/scripts/bench/load.js --url http://127.0.0.1:8080/upload -c 16 -d 15 --warmup 32 IMAGE_DIR
 * Prints one JSON line ({@link LoadResult}) on stdout.
 */
import http from 'node:http';
import { parseArgs } from 'node:util';
import { loadImages } from './images.js';

/** What one load run measured. */
export interface LoadResult {
  readonly concurrency: number;
  readonly durationS: number;
  readonly ok: number;
  readonly errors: number;
  /** Error kinds ("HTTP 503", "ECONNRESET", "timeout"…) and their counts. */
  readonly errorKinds: Record<string, number>;
  readonly rps: number;
  readonly p50Ms: number | null;
  readonly p90Ms: number | null;
  readonly p99Ms: number | null;
  readonly maxMs: number | null;
  /**
   * The load generator's own CPU per request (ms) over the measured requests: it runs on the
   * same cores as the server, which the bare pipeline does not have to share.
   */
  readonly clientCpuMsPerRequest: number | null;
}

const { values: opt, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    url: { type: 'string' },
    concurrency: { type: 'string', short: 'c', default: '1' },
    duration: { type: 'string', short: 'd' },
    requests: { type: 'string', short: 'n' },
    warmup: { type: 'string', default: '0' },
    timeout: { type: 'string', default: '30' },
    token: { type: 'string' },
  },
});
const url = new URL(opt.url ?? '');
if (!['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname)) throw new Error('loopback targets only');
const concurrency = Number(opt.concurrency);
const durationMs = opt.duration ? Number(opt.duration) * 1000 : Infinity;
const maxRequests = opt.requests ? Number(opt.requests) : Infinity;
const timeoutMs = Number(opt.timeout) * 1000;
if (!(concurrency >= 1) || (durationMs === Infinity && maxRequests === Infinity)) {
  throw new Error('usage: load --url URL -c N (-d SECONDS | -n REQUESTS) [--warmup N] IMAGE_DIR');
}

// One multipart body per image, built once.
const boundary = `----bench${Math.random().toString(16).slice(2)}`;
const bodies = (await loadImages(positionals[0]!)).map(({ name, bytes, type }) =>
  Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${name}"\r\nContent-Type: ${type}\r\n\r\n`),
    bytes,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]),
);
const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
const headers: Record<string, string> = {
  'content-type': `multipart/form-data; boundary=${boundary}`,
  accept: 'application/json',
  ...(opt.token ? { authorization: `Bearer ${opt.token}` } : {}),
};

let next = 0;
function send(): Promise<{ ms: number; error?: string }> {
  const body = bodies[next++ % bodies.length]!;
  const started = performance.now();
  return new Promise((resolve) => {
    const done = (error?: string) => resolve({ ms: performance.now() - started, ...(error ? { error } : {}) });
    const req = http.request(url, { method: 'POST', agent, headers: { ...headers, 'content-length': body.length } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', (e: NodeJS.ErrnoException) => done(e.code ?? e.message));
      res.on('end', () => {
        if (res.statusCode !== 200) return done(`HTTP ${res.statusCode}`);
        try {
          const json = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { prediction?: unknown };
          done(typeof json.prediction === 'string' ? undefined : 'no prediction');
        } catch {
          done('not JSON');
        }
      });
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error('timeout')));
    req.on('error', (e: NodeJS.ErrnoException) => done(e.message === 'timeout' ? 'timeout' : (e.code ?? e.message)));
    req.end(body);
  });
}

async function closedLoop(until: () => boolean, record: (r: { ms: number; error?: string }) => void): Promise<void> {
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (!until()) record(await send());
    }),
  );
}

let warm = Number(opt.warmup);
await closedLoop(() => warm-- <= 0, () => {});

const latencies: number[] = [];
const errorKinds: Record<string, number> = {};
let issued = 0;
const cpuBefore = process.cpuUsage();
const start = performance.now();
let end = start;
await closedLoop(
  () => performance.now() - start >= durationMs || issued++ >= maxRequests,
  ({ ms, error }) => {
    end = performance.now();
    if (error) errorKinds[error] = (errorKinds[error] ?? 0) + 1;
    else latencies.push(ms);
  },
);
const cpu = process.cpuUsage(cpuBefore);
agent.destroy();

latencies.sort((a, b) => a - b);
const quantile = (q: number): number | null =>
  latencies.length ? round(latencies[Math.min(latencies.length - 1, Math.ceil(q * latencies.length) - 1)]!) : null;
function round(x: number): number {
  return Math.round(x * 10) / 10;
}
const errors = Object.values(errorKinds).reduce((a, b) => a + b, 0);
const result: LoadResult = {
  concurrency,
  durationS: round((end - start) / 1000),
  ok: latencies.length,
  errors,
  errorKinds,
  rps: round(latencies.length / ((end - start) / 1000)),
  p50Ms: quantile(0.5),
  p90Ms: quantile(0.9),
  p99Ms: quantile(0.99),
  maxMs: latencies.length ? round(latencies.at(-1)!) : null,
  clientCpuMsPerRequest: latencies.length + errors ? Math.round(((cpu.user + cpu.system) / 1000 / (latencies.length + errors)) * 100) / 100 : null,
};
process.stdout.write(`${JSON.stringify(result)}\n`);
