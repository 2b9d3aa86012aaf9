/**
 * The load generator's HTTP/1.1 client: one keep-alive connection sends one pre-built request at
 * a time (bytes made once per image, headers included) and reads back the status and the body
 * (Content-Length or chunked), nothing else.
 *
 * Why not node:http: the load generator runs on the cores the server uses, which the bare
 * pipeline shares with nothing, so its CPU counts against the service ÷ bare ratio. At c=16 on
 * the 2-core bench machine node:http's client took 0.6–0.75 ms of CPU per upload (user + system),
 * this one ≈ 0.26 (docs/performance.md, levers measured). wrk (Debian), the usual answer, took 0.86 ms,
 * mostly system time, with the Lua script that checks each response's body.
 */
import net from 'node:net';

/** A response as the pass rule needs it. */
export interface Http1Response {
  readonly status: number;
  readonly body: Buffer;
}

/** One response parsed from the start of a buffer. */
interface Parsed {
  readonly response: Http1Response;
  /** Bytes the response took (a following response, if any, starts there). */
  readonly length: number;
  /** The server will close the connection after it (`Connection: close`, or HTTP/1.0 without keep-alive). */
  readonly close: boolean;
}

/** Malformed or unsupported response framing; the connection cannot be used further. */
export class Http1Error extends Error {
  readonly code = 'EHTTP1';
}

const CRLF = '\r\n';
const HEAD_END = '\r\n\r\n';

/** The body of a chunked response starting at `from`, or undefined while incomplete. */
function chunked(buf: Buffer, from: number): { body: Buffer; end: number } | undefined {
  const parts: Buffer[] = [];
  let pos = from;
  for (;;) {
    const eol = buf.indexOf(CRLF, pos, 'latin1');
    if (eol < 0) return undefined;
    const size = Number.parseInt(buf.toString('latin1', pos, eol).split(';')[0]!.trim(), 16);
    if (!Number.isInteger(size) || size < 0) throw new Http1Error('malformed chunk size');
    if (size === 0) {
      // The last chunk, then optional trailer fields, then an empty line.
      const end = buf.indexOf(HEAD_END, eol, 'latin1');
      return end < 0 ? undefined : { body: Buffer.concat(parts), end: end + 4 };
    }
    if (buf.length < eol + 2 + size + 2) return undefined;
    parts.push(buf.subarray(eol + 2, eol + 2 + size));
    pos = eol + 2 + size + 2;
  }
}

/**
 * Parses the response at the start of `buf` (a reply to a request with a body, so never a
 * bodiless 1xx/204/304 in this use); undefined while it is incomplete.
 */
export function parseResponse(buf: Buffer): Parsed | undefined {
  const headEnd = buf.indexOf(HEAD_END, 0, 'latin1');
  if (headEnd < 0) return undefined;
  const [statusLine = '', ...fields] = buf.toString('latin1', 0, headEnd).split(CRLF);
  const status = /^HTTP\/1\.([01]) (\d{3})/.exec(statusLine);
  if (!status) throw new Http1Error(`malformed status line "${statusLine.slice(0, 40)}"`);
  const headers = new Map<string, string>();
  for (const field of fields) {
    const colon = field.indexOf(':');
    if (colon > 0) headers.set(field.slice(0, colon).trim().toLowerCase(), field.slice(colon + 1).trim().toLowerCase());
  }
  const connection = headers.get('connection') ?? '';
  const close = status[1] === '0' ? !connection.includes('keep-alive') : connection.includes('close');
  const bodyStart = headEnd + 4;
  let body: Buffer;
  let end: number;
  if (headers.get('transfer-encoding')?.endsWith('chunked')) {
    const found = chunked(buf, bodyStart);
    if (!found) return undefined;
    ({ body, end } = found);
  } else if (headers.has('content-length')) {
    const length = Number(headers.get('content-length'));
    if (!Number.isInteger(length) || length < 0) throw new Http1Error('malformed Content-Length');
    end = bodyStart + length;
    if (buf.length < end) return undefined;
    body = buf.subarray(bodyStart, end);
  } else {
    throw new Http1Error('response without Content-Length or chunked framing');
  }
  return { response: { status: Number(status[2]), body }, length: end, close };
}

/** One keep-alive connection to `host:port`, reopened after the server closes it or an error. */
export class Http1Connection {
  private socket: net.Socket | undefined;
  private received: Buffer = Buffer.alloc(0);
  private waiting: { resolve: (r: Http1Response) => void; reject: (e: Error) => void } | undefined;

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly timeoutMs: number,
  ) {}

  /** Sends `request` (a whole HTTP/1.1 request) and resolves with the response. One at a time. */
  request(request: Buffer): Promise<Http1Response> {
    if (this.waiting) return Promise.reject(new Error('one request at a time'));
    const socket = this.socket ?? this.open();
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      socket.setTimeout(this.timeoutMs);
      socket.write(request);
    });
  }

  /** Closes the connection. */
  close(): void {
    this.socket?.destroy();
    this.socket = undefined;
  }

  private open(): net.Socket {
    const socket = net.connect({ host: this.host, port: this.port, noDelay: true });
    this.socket = socket;
    this.received = Buffer.alloc(0);
    socket.on('data', (data: Buffer) => this.onData(socket, data));
    socket.on('timeout', () => this.fail(socket, Object.assign(new Error('timeout'), { code: 'timeout' })));
    socket.on('error', (err) => this.fail(socket, err));
    socket.on('close', () => this.fail(socket, Object.assign(new Error('connection closed by the server'), { code: 'closed' })));
    return socket;
  }

  private onData(socket: net.Socket, data: Buffer): void {
    if (socket !== this.socket) return;
    this.received = this.received.length ? Buffer.concat([this.received, data]) : data;
    let parsed: Parsed | undefined;
    try {
      parsed = parseResponse(this.received);
    } catch (err) {
      this.fail(socket, err as Error);
      return;
    }
    if (!parsed) return;
    this.received = this.received.subarray(parsed.length);
    socket.setTimeout(0);
    if (parsed.close) this.drop(socket);
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.resolve(parsed.response);
  }

  /** Rejects the request in flight, if any, and forgets the socket (events of a socket already forgotten are ignored). */
  private fail(socket: net.Socket, err: Error): void {
    if (socket !== this.socket) return;
    this.drop(socket);
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.reject(err);
  }

  private drop(socket: net.Socket): void {
    if (this.socket === socket) this.socket = undefined;
    socket.destroy();
  }
}
