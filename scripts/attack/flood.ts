/**
 * A greedy client: `connections` keep-alive connections, each sending the same request again as
 * soon as the previous one is answered (or, when it honours `Retry-After`, once that has passed).
 * Two requests, the two ways one client could starve the others (issue 22, item 4):
 *
 * - `batch`: an Open Inference Protocol request of `images` images in the binary form (cat.png
 *   each, 64 of them a 20 MB body), to `/v2/models/catdog/infer`;
 * - `explain`: `POST /explain` of cat.png.
 *
 * What it got is counted: answers by status, images classified, 5xx answers other than a 503
 * with `Retry-After` (none expected), and requests that failed without an answer.
 *
 * {@link startFloodProcess} runs it in a child process of its own, as a client on another machine
 * would be: its 20 MB bodies do not share the event loop of the client whose latency is measured.
 */
import { fork } from 'node:child_process';
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { catImagePath } from '../../test/fixtures/course-images.js';
import { uploadBody } from './from-address.js';

/** Options of {@link startFlood}. */
export interface FloodOptions {
  /** The service, `http://127.0.0.1:PORT`. */
  readonly url: string;
  readonly kind: 'batch' | 'explain';
  /** Connections, each with one request at a time. */
  readonly connections: number;
  /** Images per `batch` request; default 64. */
  readonly images?: number;
  /** A bearer token, if the service wants one. */
  readonly token?: string;
  /** Source address of the connections; default the system's choice. */
  readonly localAddress?: string;
  /** Wait what `Retry-After` says after a 429 or 503; default false (retry at once). */
  readonly honourRetryAfter?: boolean;
}

/** What the service did to the flood. */
export interface FloodStats {
  readonly requests: number;
  /** Answers by status. */
  readonly answers: Readonly<Record<string, number>>;
  /** Images classified (200 answers × images per request). */
  readonly imagesServed: number;
  /** 5xx answers other than a 503 with `Retry-After`. */
  readonly bad5xx: number;
  /** Requests that got no answer (reset, refused connection). */
  readonly failed: number;
  /** Failures by error code. */
  readonly errors: Readonly<Record<string, number>>;
  readonly durationMs: number;
}

/** A running flood. */
export interface Flood {
  /** Stops sending; resolves once every request in flight has ended. */
  stop(): Promise<FloodStats>;
}

/** The request a flood sends again and again. */
function requestOf(options: FloodOptions): { path: string; headers: Record<string, string>; body: Buffer } {
  const cat = readFileSync(catImagePath);
  const auth: Record<string, string> = options.token ? { authorization: `Bearer ${options.token}` } : {};
  if (options.kind === 'explain') {
    const { body, contentType } = uploadBody(cat);
    return { path: '/explain', headers: { ...auth, 'content-type': contentType, accept: 'application/json' }, body };
  }
  const images = options.images ?? 64;
  const element = Buffer.alloc(4);
  element.writeUInt32LE(cat.length);
  const tensor = Buffer.concat(Array.from({ length: images }, () => [element, cat]).flat());
  const header = Buffer.from(JSON.stringify({
    inputs: [{ name: 'image', datatype: 'BYTES', shape: [images], parameters: { binary_data_size: tensor.length } }],
    outputs: [{ name: 'label' }],
  }));
  return {
    path: '/v2/models/catdog/infer',
    headers: { ...auth, 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.length) },
    body: Buffer.concat([header, tensor]),
  };
}

/** Starts the flood. */
export function startFlood(options: FloodOptions): Flood {
  const { path, headers, body } = requestOf(options);
  const imagesPerRequest = options.kind === 'batch' ? options.images ?? 64 : 1;
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.connections });
  const answers: Record<string, number> = {};
  const errors: Record<string, number> = {};
  let requests = 0;
  let imagesServed = 0;
  let bad5xx = 0;
  let failed = 0;
  let running = true;
  const started = performance.now();

  const once = (): Promise<number> => new Promise((resolve) => {
    requests++;
    const req = http.request(`${options.url}${path}`, {
      method: 'POST',
      agent,
      headers: { ...headers, 'content-length': String(body.length) },
      ...(options.localAddress ? { localAddress: options.localAddress } : {}),
    });
    req.on('response', (res) => {
      const status = res.statusCode ?? 0;
      answers[status] = (answers[status] ?? 0) + 1;
      const retryAfter = Number(res.headers['retry-after'] ?? 0);
      if (status >= 500 && !(status === 503 && retryAfter > 0)) bad5xx++;
      if (status === 200) imagesServed += imagesPerRequest;
      res.resume();
      res.on('end', () => resolve(options.honourRetryAfter && (status === 429 || status === 503) ? retryAfter * 1000 : 0));
      res.on('error', () => resolve(0));
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      failed++;
      const code = err.code ?? err.message;
      errors[code] = (errors[code] ?? 0) + 1;
      // A connection closed after a refusal: the next request opens another.
      setTimeout(() => resolve(0), 10);
    });
    req.end(body);
  });

  const loops = Array.from({ length: options.connections }, async () => {
    while (running) {
      const pause = await once();
      if (pause > 0 && running) await new Promise((resolve) => setTimeout(resolve, pause));
    }
  });

  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      agent.destroy();
      return { requests, answers, imagesServed, bad5xx, failed, errors, durationMs: performance.now() - started };
    },
  };
}

/** The flood in a child process; `stop()` resolves with its counts once the child has stopped. */
export interface FloodProcess {
  stop(): Promise<FloodStats>;
}

/** Starts a flood in a child process (this module, through tsx); resolves once it sends. */
export async function startFloodProcess(options: FloodOptions): Promise<FloodProcess> {
  const child = fork(fileURLToPath(import.meta.url), [JSON.stringify(options)], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (code) => reject(new Error(`the flood process exited with code ${code}`)));
  });
  return {
    async stop() {
      const stats = new Promise<FloodStats>((resolve) => child.once('message', (m) => resolve(m as FloodStats)));
      child.send('stop');
      const result = await stats;
      await exited;
      return result;
    },
  };
}

// Run as a child by startFloodProcess: options in argv, 'started' then the counts over IPC.
if (process.argv[1] === fileURLToPath(import.meta.url) && process.send) {
  const flood = startFlood(JSON.parse(process.argv[2]!) as FloodOptions);
  process.send('started');
  process.on('message', (message) => {
    if (message !== 'stop') return;
    void flood.stop().then((stats) => process.send!(stats, () => process.disconnect()));
  });
}
