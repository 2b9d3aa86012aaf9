/**
 * Soak test (not a unit test): many uploads at a fixed concurrency on loopback, valid and
 * invalid mixed, then a report of answers by status, latency percentiles and the server's
 * resident memory at the start and the end (from its own `/metrics`).
 *
 * ```sh
 * make soak                                   # spawns the service with the default model
 * node --import tsx scripts/soak.ts --url http://127.0.0.1:8080 --requests 20000 --concurrency 32
 * ```
 *
 * Without `--url`, the service is started (`node --import tsx src/main.ts`, AUTH_DISABLED=true,
 * the default model unless MODEL_MANIFEST is set) on a free loopback port, and stopped with
 * SIGTERM at the end; its exit code is part of the report. Exits 1 when any answer is a 5xx
 * other than the overload guard's 503, or not the status expected for its kind of request.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { pngDeclaring } from '../test/fixtures/images.js';
import { rootDir } from '../src/spec.js';

const { values: args } = parseArgs({
  options: {
    url: { type: 'string' },
    requests: { type: 'string', default: '20000' },
    concurrency: { type: 'string', default: '32' },
    'invalid-percent': { type: 'string', default: '20' },
  },
});
const total = Number(args.requests);
const concurrency = Number(args.concurrency);
const invalidPercent = Number(args['invalid-percent']);

/** One kind of request: how to build its body, and the status it must get. */
interface Kind {
  readonly name: string;
  readonly body: () => FormData | string;
  readonly contentType?: string;
  readonly expected: number;
}

function form(bytes: Uint8Array, filename: string, type: string): FormData {
  const f = new FormData();
  f.append('file', new Blob([bytes], { type }), filename);
  return f;
}

async function kinds(): Promise<{ valid: Kind[]; invalid: Kind[] }> {
  const photo = (w: number, h: number) =>
    sharp({ create: { width: w, height: h, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 50 } } });
  const jpeg = await photo(320, 240).jpeg().toBuffer();
  const png = await photo(224, 224).png().toBuffer();
  const webp = await photo(400, 300).webp().toBuffer();
  return {
    valid: [
      { name: 'jpeg 320x240', body: () => form(jpeg, 'a.jpg', 'image/jpeg'), expected: 200 },
      { name: 'png 224x224', body: () => form(png, 'a.png', 'image/png'), expected: 200 },
      { name: 'webp 400x300', body: () => form(webp, 'a.webp', 'image/webp'), expected: 200 },
    ],
    invalid: [
      { name: 'text file', body: () => form(Buffer.from('not an image'), 'a.txt', 'text/plain'), expected: 422 },
      { name: 'truncated png', body: () => form(png.subarray(0, png.length >> 1), 'a.png', 'image/png'), expected: 422 },
      { name: 'pixel bomb', body: () => form(pngDeclaring(50_000, 50_000), 'b.png', 'image/png'), expected: 413 },
      { name: 'no file part', body: () => { const f = new FormData(); f.append('note', 'x'); return f; }, expected: 400 },
      { name: 'json body', body: () => '{"file":"x"}', contentType: 'application/json', expected: 415 },
    ],
  };
}

/** The server's resident memory, from its metrics. */
async function serverRss(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('process_resident_memory_bytes '));
  return Number(line?.split(' ')[1] ?? NaN);
}

async function startService(): Promise<{ url: string; child: ChildProcess; exited: Promise<number | null> }> {
  // `node --import tsx`: the `tsx` command would SIGKILL a busy child on SIGTERM.
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: rootDir,
    // The request log stays on (info), as in production: its cost is part of the figures.
    env: { AUTH_DISABLED: 'true', PORT: '0', GRPC_PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...process.env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const onData = (d: Buffer): void => {
      out += d.toString();
      const m = /"port":(\d+),"msg":"listening"/.exec(out);
      if (m) {
        // From here on the log is read and dropped.
        child.stdout.off('data', onData);
        child.stdout.resume();
        resolve(`http://127.0.0.1:${m[1]}`);
      }
    };
    child.stdout.on('data', onData);
    void exited.then((code) => reject(new Error(`service exited with ${code}:\n${out}`)));
  });
  for (;;) {
    const ready = await fetch(`${url}/health/ready`).then((r) => r.status, () => 0);
    if (ready === 200) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { url, child, exited };
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

async function main(): Promise<void> {
  const own = args.url ? undefined : await startService();
  const url = args.url ?? own!.url;
  const { valid, invalid } = await kinds();
  const rssStart = await serverRss(url);
  const byStatus = new Map<number | string, number>();
  const unexpected = new Map<string, number>();
  const latencies: number[] = [];
  let sent = 0;
  const started = performance.now();

  const worker = async (): Promise<void> => {
    while (sent < total) {
      const i = sent++;
      // A fixed pattern rather than random draws: runs are comparable.
      const pool = i % 100 < invalidPercent ? invalid : valid;
      const kind = pool[i % pool.length]!;
      const t0 = performance.now();
      let status: number | string;
      try {
        const res = await fetch(`${url}/upload`, {
          method: 'POST',
          body: kind.body(),
          ...(kind.contentType ? { headers: { 'content-type': kind.contentType } } : {}),
        });
        await res.arrayBuffer();
        status = res.status;
      } catch (err) {
        status = `error ${(err as Error).cause ? String((err as Error).cause) : (err as Error).message}`;
      }
      latencies.push(performance.now() - t0);
      byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
      if (status !== kind.expected && status !== 503) {
        const key = `${kind.name}: ${status}`;
        unexpected.set(key, (unexpected.get(key) ?? 0) + 1);
      }
      if ((i + 1) % 2000 === 0) process.stdout.write(`  ${i + 1}/${total} sent, ${((performance.now() - started) / 1000).toFixed(0)} s\n`);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - started) / 1000;
  const rssEnd = await serverRss(url);

  let exitCode: number | null | undefined;
  if (own) {
    own.child.kill('SIGTERM');
    exitCode = await own.exited;
  }
  latencies.sort((a, b) => a - b);
  const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
  const statuses = [...byStatus.entries()].sort(([a], [b]) => String(a).localeCompare(String(b)));
  process.stdout.write(
    [
      `soak: ${total} uploads, concurrency ${concurrency}, ${invalidPercent}% invalid, ${seconds.toFixed(1)} s (${(total / seconds).toFixed(1)} req/s)`,
      `  by status: ${statuses.map(([s, n]) => `${s}=${n}`).join(' ')}`,
      `  latency: p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms, max ${latencies.at(-1)?.toFixed(1)} ms`,
      `  server RSS: start ${mib(rssStart)}, end ${mib(rssEnd)} (${rssEnd >= rssStart ? '+' : ''}${mib(rssEnd - rssStart)})`,
      ...(exitCode === undefined ? [] : [`  service exit code after SIGTERM: ${exitCode}`]),
      `  unexpected: ${unexpected.size === 0 ? 'none' : [...unexpected.entries()].map(([k, n]) => `${k} ×${n}`).join(', ')}`,
      '',
    ].join('\n'),
  );
  process.exitCode = unexpected.size === 0 && (exitCode === undefined || exitCode === 0) ? 0 : 1;
}

await main();
