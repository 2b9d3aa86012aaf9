/**
 * Closed-loop load generator for the upload contract, run as its own process so that its CPU
 * is not the server's: C connections each send one multipart upload at a time for D seconds.
 * Same load model and pass rule as ../shared/bench/load.mjs (HTTP 200 with a JSON
 * `prediction`), so the service and the peer are measured by one tool. Each connection is
 * one keep-alive HTTP/1.1 connection (`http1.ts`: lighter on the shared cores than node:http).
 *
 * With `--v2-batch N` it sends Open Inference Protocol requests instead (the URL being a V2
 * `infer` route): N images per request as one binary BYTES tensor (Triton's binary tensor data
 * extension), both outputs asked for in JSON; it passes with HTTP 200 and N labels.
 *
 * @example node .bench/build/scripts/bench/load.js --url http://127.0.0.1:8080/upload -c 16 -d 15 --warmup 32 IMAGE_DIR
 * @example node .bench/build/scripts/bench/load.js --url http://127.0.0.1:8080/v2/models/catdog/infer --v2-batch 8 -c 4 -d 15 IMAGE_DIR
 * Prints one JSON line ({@link LoadResult}) on stdout; `--timeline` adds every request to it.
 */
import { parseArgs } from 'node:util';
import { Http1Connection } from './http1.js';
import { loadImages } from './images.js';
import { loadResult, roundTenth as round, type LoadResult } from './load-result.js';

export type { LoadResult } from './load-result.js';

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
    'v2-batch': { type: 'string' },
    timeline: { type: 'boolean', default: false },
  },
});
const v2Batch = opt['v2-batch'] === undefined ? undefined : Number(opt['v2-batch']);
if (v2Batch !== undefined && !(Number.isInteger(v2Batch) && v2Batch >= 1)) throw new Error('--v2-batch takes a positive integer');
const url = new URL(opt.url ?? '');
if (!['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname)) throw new Error('loopback targets only');
const concurrency = Number(opt.concurrency);
const durationMs = opt.duration ? Number(opt.duration) * 1000 : Infinity;
const maxRequests = opt.requests ? Number(opt.requests) : Infinity;
const timeoutMs = Number(opt.timeout) * 1000;
if (!(concurrency >= 1) || (durationMs === Infinity && maxRequests === Infinity)) {
  throw new Error('usage: load --url URL -c N (-d SECONDS | -n REQUESTS) [--warmup N] IMAGE_DIR');
}

const images = await loadImages(positionals[0]!);

/** A V2 request of `batch` images from `first` on (cycling): the JSON header, then one BYTES tensor. */
function v2Request(first: number, batch: number): Buffer {
  const chosen = Array.from({ length: batch }, (_, i) => images[(first + i) % images.length]!.bytes);
  const tensor = Buffer.concat(chosen.flatMap((bytes) => {
    const length = Buffer.alloc(4);
    length.writeUInt32LE(bytes.length);
    return [length, bytes];
  }));
  const header = Buffer.from(JSON.stringify({
    inputs: [{ name: 'image', datatype: 'BYTES', shape: [batch], parameters: { binary_data_size: tensor.length } }],
    outputs: [{ name: 'probabilities' }, { name: 'label' }],
  }));
  const head = [
    `POST ${url.pathname}${url.search} HTTP/1.1`,
    `Host: ${url.host}`,
    'Content-Type: application/octet-stream',
    `Inference-Header-Content-Length: ${header.length}`,
    'Accept: application/json',
    ...(opt.token ? [`Authorization: Bearer ${opt.token}`] : []),
    `Content-Length: ${header.length + tensor.length}`,
  ];
  return Buffer.concat([Buffer.from(`${head.join('\r\n')}\r\n\r\n`, 'latin1'), header, tensor]);
}

// One request per image, built once, byte for byte: request line, headers, multipart body.
const boundary = `----bench${Math.random().toString(16).slice(2)}`;
const requests = v2Batch !== undefined ? images.map((_, i) => v2Request(i * v2Batch, v2Batch)) : images.map(({ name, bytes, type }) => {
  const body = Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${name}"\r\nContent-Type: ${type}\r\n\r\n`),
    bytes,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  const head = [
    `POST ${url.pathname}${url.search} HTTP/1.1`,
    `Host: ${url.host}`,
    `Content-Type: multipart/form-data; boundary=${boundary}`,
    'Accept: application/json',
    ...(opt.token ? [`Authorization: Bearer ${opt.token}`] : []),
    `Content-Length: ${body.length}`,
  ];
  return Buffer.concat([Buffer.from(`${head.join('\r\n')}\r\n\r\n`, 'latin1'), body]);
});
const port = Number(url.port || 80);
const hostname = url.hostname.replace(/^\[|\]$/g, '');

let next = 0;
/** One request's outcome: when it started, the time taken, the error kind if it did not pass, the version that answered. */
interface Sent {
  readonly at: number;
  readonly ms: number;
  readonly error?: string;
  readonly version?: string;
}

/** Sends the next image on `connection`. */
async function send(connection: Http1Connection): Promise<Sent> {
  const request = requests[next++ % requests.length]!;
  const at = Date.now();
  const started = performance.now();
  let error: string | undefined;
  let version: string | undefined;
  try {
    const res = await connection.request(request);
    if (res.status !== 200) error = `HTTP ${res.status}`;
    else {
      try {
        const json = JSON.parse(res.body.toString('utf8')) as {
          prediction?: unknown;
          model_version?: unknown;
          outputs?: { name: string; data?: unknown[] }[];
        };
        if (v2Batch !== undefined) {
          if (json.outputs?.find((o) => o.name === 'label')?.data?.length !== v2Batch) error = 'no labels';
        } else if (typeof json.prediction !== 'string') {
          error = 'no prediction';
        }
        if (typeof json.model_version === 'string') version = json.model_version;
      } catch {
        error = 'not JSON';
      }
    }
  } catch (err) {
    error = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
  }
  return { at, ms: performance.now() - started, ...(error ? { error } : {}), ...(version === undefined ? {} : { version }) };
}

const connections = Array.from({ length: concurrency }, () => new Http1Connection(hostname, port, timeoutMs));

async function closedLoop(until: () => boolean, record: (r: Sent) => void): Promise<void> {
  await Promise.all(
    connections.map(async (connection) => {
      while (!until()) record(await send(connection));
    }),
  );
}

let warm = Number(opt.warmup);
await closedLoop(() => warm-- <= 0, () => {});

const latencies: number[] = [];
const errorKinds: Record<string, number> = {};
const versions: Record<string, number> = {};
const timeline: [number, number, string, string][] = [];
let issued = 0;
const cpuBefore = process.cpuUsage();
const start = performance.now();
let end = start;
await closedLoop(
  () => performance.now() - start >= durationMs || issued++ >= maxRequests,
  ({ at, ms, error, version }) => {
    end = performance.now();
    if (error) errorKinds[error] = (errorKinds[error] ?? 0) + 1;
    else latencies.push(ms);
    versions[version ?? ''] = (versions[version ?? ''] ?? 0) + 1;
    if (opt.timeline) timeline.push([at, round(ms), error ?? '', version ?? '']);
  },
);
const cpu = process.cpuUsage(cpuBefore);
for (const connection of connections) connection.close();

const result: LoadResult = {
  ...loadResult({ concurrency, startMs: start, endMs: end, latencies, errorKinds, cpu, imagesPerRequest: v2Batch ?? 1, versions }),
  ...(opt.timeline ? { timeline } : {}),
};
process.stdout.write(`${JSON.stringify(result)}\n`);
