/**
 * The slow-upload attacker: `connections` uploads held open at once from one source address,
 * each sending its headers at once and then its body at `bytesPerSecond`; whenever one ends
 * (answered, cut or refused) it comes back after `reconnectDelayMs`. What the service does to
 * them is counted: answers by status, and connections closed without an answer.
 *
 * {@link startSlowUploadsProcess} runs it in a child process of its own, as an attacker on
 * another machine would be: its hundreds of sockets then do not share the event loop of the
 * client whose latency is measured.
 */
import { fork } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';

/** Options of {@link startSlowUploads}. */
export interface SlowUploadOptions {
  /** The service, `http://127.0.0.1:PORT`. */
  readonly url: string;
  /** Uploads held open at once. */
  readonly connections: number;
  /** Source address of every connection. */
  readonly localAddress: string;
  /** Body bytes per second on each connection. */
  readonly bytesPerSecond: number;
  /** Declared body size (the upload never finishes at this rate). */
  readonly bodyBytes?: number;
  /** A bearer token sent by every `tokenEvery`-th connection (default every one), if given. */
  readonly token?: string;
  readonly tokenEvery?: number;
  /** Pause before a connection that ended is opened again, in milliseconds. */
  readonly reconnectDelayMs: number;
}

/** What the service did to the attacker's connections. */
export interface SlowUploadStats {
  /** Connections opened in all. */
  readonly opened: number;
  /** Answers received, by status. */
  readonly answers: Readonly<Record<string, number>>;
  /** Connections closed (or reset) by the service without any answer. */
  readonly unanswered: number;
  /** Connections open when the attack stopped. */
  readonly openAtEnd: number;
}

/** A running attack. */
export interface SlowUploads {
  /** Connections open now. */
  readonly open: number;
  /** Stops it: closes every connection; resolves with the counts. */
  stop(): SlowUploadStats;
}

const TICKS_PER_SECOND = 4;

/** Starts the attack. */
export function startSlowUploads(options: SlowUploadOptions): SlowUploads {
  const { hostname, port } = new URL(options.url);
  const bodyBytes = options.bodyBytes ?? 1024 * 1024;
  const chunk = Buffer.alloc(Math.max(1, Math.round(options.bytesPerSecond / TICKS_PER_SECOND)), 'a');
  const sockets = new Set<net.Socket>();
  const answers: Record<string, number> = {};
  let opened = 0;
  let unanswered = 0;
  let running = true;

  const connect = (i: number): void => {
    if (!running) return;
    opened++;
    const socket = net.connect({ host: hostname, port: Number(port), localAddress: options.localAddress });
    sockets.add(socket);
    let head = '';
    let answered = false;
    const token = options.token !== undefined && i % (options.tokenEvery ?? 1) === 0 ? options.token : undefined;
    const request = [
      'POST /upload HTTP/1.1',
      `Host: ${hostname}:${port}`,
      'Content-Type: multipart/form-data; boundary=slow',
      `Content-Length: ${bodyBytes}`,
      ...(token ? [`Authorization: Bearer ${token}`] : []),
      '',
      '--slow\r\nContent-Disposition: form-data; name="file"; filename="slow.png"\r\nContent-Type: image/png\r\n\r\n',
    ].join('\r\n');
    let trickle: NodeJS.Timeout | undefined;
    // The body only once the head is written: on a loaded machine the connection can take longer
    // than a tick, and a chunk queued before it would reach the server ahead of the head.
    socket.on('connect', () => {
      socket.write(request);
      trickle = setInterval(() => {
        if (socket.writable) socket.write(chunk);
      }, 1000 / TICKS_PER_SECOND);
    });
    socket.on('data', (d: Buffer) => {
      if (answered) return;
      head += d.toString('latin1');
      const status = /^HTTP\/1\.1 (\d{3})/.exec(head)?.[1];
      if (status) {
        answered = true;
        answers[status] = (answers[status] ?? 0) + 1;
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      clearInterval(trickle);
      sockets.delete(socket);
      if (!running) return;
      if (!answered) unanswered++;
      setTimeout(() => connect(i), options.reconnectDelayMs).unref();
    });
  };

  for (let i = 0; i < options.connections; i++) connect(i);

  return {
    get open() {
      return sockets.size;
    },
    stop() {
      running = false;
      const openAtEnd = sockets.size;
      for (const socket of sockets) socket.destroy();
      return { opened, answers, unanswered, openAtEnd };
    },
  };
}

/** The attack in a child process; `stop()` resolves with its counts once the child has stopped. */
export interface SlowUploadsProcess {
  stop(): Promise<SlowUploadStats>;
}

/** Starts the attack in a child process (this module, through tsx); resolves once it runs. */
export async function startSlowUploadsProcess(options: SlowUploadOptions): Promise<SlowUploadsProcess> {
  const child = fork(fileURLToPath(import.meta.url), [JSON.stringify(options)], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (code) => reject(new Error(`the attacker process exited with code ${code}`)));
  });
  return {
    async stop() {
      const stats = new Promise<SlowUploadStats>((resolve) => child.once('message', (m) => resolve(m as SlowUploadStats)));
      child.send('stop');
      const result = await stats;
      await exited;
      return result;
    },
  };
}

// Run as a child by startSlowUploadsProcess: options in argv, 'started' then the counts over IPC.
if (process.argv[1] === fileURLToPath(import.meta.url) && process.send) {
  const attack = startSlowUploads(JSON.parse(process.argv[2]!) as SlowUploadOptions);
  process.send('started');
  process.on('message', (message) => {
    if (message !== 'stop') return;
    process.send!(attack.stop(), () => process.disconnect());
  });
}
