/**
 * `POST /upload` requests as attack scenarios send them: the multipart body of one image, and
 * one request on a connection of its own from a chosen local address (Linux accepts any
 * 127.x.y.z as the source of a loopback connection), timed to the end of its answer.
 */
import http from 'node:http';

/** A multipart form with one `file` part. */
export interface UploadBody {
  readonly body: Buffer;
  readonly contentType: string;
}

/** The form `POST /upload` takes: `image` as the part `file`. */
export function uploadBody(image: Buffer, filename = 'cat.png', type = 'image/png'): UploadBody {
  const boundary = 'attack-boundary-7d3f';
  const body = Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\nContent-Type: ${type}\r\n\r\n`),
    image,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  return { body, contentType: `multipart/form-data; boundary=${boundary}` };
}

/** What became of one request. */
export interface Outcome {
  /** The status, or 0 when no answer came (`error` says why). */
  readonly status: number;
  /** From the first byte sent to the end of the answer (or to the failure), in milliseconds. */
  readonly ms: number;
  readonly error?: string;
}

/** Options of {@link send}. */
export interface SendOptions {
  readonly method?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: Buffer;
  /** Source address of the connection; default the system's choice. */
  readonly localAddress?: string;
  /** Give up after this long (an outcome with status 0); default 10 s. */
  readonly timeoutMs?: number;
}

/** Sends one request on a new connection (`Connection: close`) and times its answer. */
export function send(url: string, options: SendOptions = {}): Promise<Outcome> {
  const started = performance.now();
  return new Promise((resolve) => {
    let settled = false;
    const done = (status: number, error?: string): void => {
      if (settled) return;
      settled = true;
      resolve({ status, ms: performance.now() - started, ...(error === undefined ? {} : { error }) });
    };
    const req = http.request(url, {
      method: options.method ?? 'GET',
      agent: false,
      headers: { ...options.headers, ...(options.body ? { 'content-length': String(options.body.length) } : {}) },
      ...(options.localAddress ? { localAddress: options.localAddress } : {}),
      timeout: options.timeoutMs ?? 10_000,
    });
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => done(res.statusCode ?? 0));
      res.on('error', (err) => done(0, err.message));
    });
    req.on('timeout', () => {
      req.destroy();
      done(0, 'timeout');
    });
    req.on('error', (err: NodeJS.ErrnoException) => done(0, err.code ?? err.message));
    req.end(options.body);
  });
}
