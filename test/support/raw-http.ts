/**
 * HTTP/1.1 over a bare socket, for requests `fetch` refuses to make: broken framing, oversized
 * headers, non-UTF-8 bytes in headers, bodies that are never sent, slow clients.
 */
import net from 'node:net';
import type { Received } from './contract.js';

/** What the client does with the request bytes. */
export interface RawRequest {
  /** Bytes sent at once. */
  readonly head: Uint8Array | string;
  /** Bytes sent one chunk per `intervalMs` after `head` (a slow client). */
  readonly trickle?: { readonly chunks: readonly (Uint8Array | string)[]; readonly intervalMs: number };
  /** Give up waiting for an answer after this long (default 10 s). */
  readonly timeoutMs?: number;
  /** Source address of the connection (any 127.x.y.z on Linux loopback); default the system's choice. */
  readonly localAddress?: string;
}

/** The answer, and whether the server closed the connection after it. */
export interface RawReceived extends Received {
  readonly closed: boolean;
  /** Milliseconds from the first byte sent to the end of the answer. */
  readonly elapsedMs: number;
}

function parse(raw: Buffer): { status: number; headers: Headers; text: string; complete: boolean } | undefined {
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const lines = raw.subarray(0, end).toString('latin1').split('\r\n');
  const status = Number(lines[0]!.split(' ')[1]);
  const headers = new Headers();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
  }
  const body = raw.subarray(end + 4);
  const length = headers.get('content-length');
  const complete = length !== null && body.length >= Number(length);
  return { status, headers, text: body.toString('utf8'), complete };
}

/**
 * Connects to `url`'s host and port, sends the request, and resolves with the first answer once
 * its body is complete (per Content-Length) or the server closes the connection.
 */
export function rawExchange(url: string, request: RawRequest): Promise<RawReceived> {
  const { hostname, port } = new URL(url);
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port: Number(port), host: hostname, ...(request.localAddress ? { localAddress: request.localAddress } : {}) });
    const chunks: Buffer[] = [];
    let settled = false;
    const trickle: NodeJS.Timeout[] = [];
    const finish = (closed: boolean): void => {
      if (settled) return;
      const parsed = parse(Buffer.concat(chunks));
      if (!parsed) {
        if (closed) {
          settled = true;
          cleanup();
          reject(new Error(`connection closed without an answer (${Buffer.concat(chunks).length} bytes)`));
        }
        return;
      }
      if (!parsed.complete && !closed) return;
      settled = true;
      cleanup();
      const type = parsed.headers.get('content-type') ?? '';
      const body = /json/.test(type) && parsed.text ? (JSON.parse(parsed.text) as unknown) : parsed.text;
      resolve({ status: parsed.status, headers: parsed.headers, body, text: parsed.text, closed, elapsedMs: performance.now() - started });
    };
    // Declared before the timer starts; called only once it exists (from the handlers below).
    const cleanup = (): void => {
      clearTimeout(timer);
      for (const t of trickle) clearTimeout(t);
      socket.destroy();
    };
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      cleanup();
      reject(new Error(`no answer within ${request.timeoutMs ?? 10_000} ms`));
    }, request.timeoutMs ?? 10_000);
    socket.on('data', (d: Buffer) => {
      chunks.push(d);
      finish(false);
    });
    socket.on('end', () => finish(true));
    socket.on('close', () => finish(true));
    // The server may close while we are still writing (a refused body): that is an answer too.
    socket.on('error', () => finish(true));
    socket.on('connect', () => {
      socket.write(request.head);
      request.trickle?.chunks.forEach((chunk, i) => {
        trickle.push(setTimeout(() => {
          if (!socket.destroyed) socket.write(chunk);
        }, (i + 1) * request.trickle!.intervalMs));
      });
    });
  });
}

/** The head of a POST request with the given headers (a `Host` is added). */
export function requestHead(method: string, path: string, headers: Readonly<Record<string, string | number>>): string {
  const lines = [`${method} ${path} HTTP/1.1`, 'Host: 127.0.0.1'];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/** What {@link rawExchangeUntilClosed} saw. */
export interface RawClosed extends RawReceived {
  /** Milliseconds from the first byte sent to the server closing the connection. */
  readonly closedAfterMs: number;
}

/**
 * As {@link rawExchange}, but resolves only once the server closed the connection (or after
 * `timeoutMs`, rejecting): for what a server does with a connection after its answer.
 */
export function rawExchangeUntilClosed(url: string, request: RawRequest): Promise<RawClosed> {
  const { hostname, port } = new URL(url);
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port: Number(port), host: hostname, ...(request.localAddress ? { localAddress: request.localAddress } : {}) });
    const chunks: Buffer[] = [];
    let answeredAt: number | undefined;
    const trickle: NodeJS.Timeout[] = [];
    const timer = setTimeout(() => {
      for (const t of trickle) clearTimeout(t);
      socket.destroy();
      reject(new Error(`the connection was still open after ${request.timeoutMs ?? 10_000} ms`));
    }, request.timeoutMs ?? 10_000);
    socket.on('data', (d: Buffer) => {
      chunks.push(d);
      if (answeredAt === undefined && parse(Buffer.concat(chunks))?.complete) answeredAt = performance.now();
    });
    // A reset after the answer is a close too.
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      for (const t of trickle) clearTimeout(t);
      const parsed = parse(Buffer.concat(chunks));
      if (!parsed) return reject(new Error('connection closed without an answer'));
      const type = parsed.headers.get('content-type') ?? '';
      const body = /json/.test(type) && parsed.text ? (JSON.parse(parsed.text) as unknown) : parsed.text;
      const closedAt = performance.now();
      resolve({
        status: parsed.status,
        headers: parsed.headers,
        body,
        text: parsed.text,
        closed: true,
        elapsedMs: (answeredAt ?? closedAt) - started,
        closedAfterMs: closedAt - started,
      });
    });
    socket.on('connect', () => {
      socket.write(request.head);
      request.trickle?.chunks.forEach((chunk, i) => {
        trickle.push(setTimeout(() => {
          if (!socket.destroyed && socket.writable) socket.write(chunk);
        }, (i + 1) * request.trickle!.intervalMs));
      });
    });
  });
}
