/**
 * Closing a connection whose client is still sending (a refusal answered before its body was
 * read): the client reads the answer instead of a reset while it sends briskly, and a slow or
 * endless sender is cut. Raw sockets on loopback, with short windows.
 */
import net from 'node:net';
import { once } from 'node:events';
import { expect } from 'chai';
import { createLingeringCloser } from '../../../src/http/lingering-close.js';
import { waitFor } from '../../support/wait.js';

const ANSWER = 'HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n';

/** A server whose every connection is closed at once by `closer`, with {@link ANSWER}. */
async function refusingServer(closer: ReturnType<typeof createLingeringCloser>): Promise<{ port: number; server: net.Server }> {
  const server = net.createServer((socket) => closer.close(socket, ANSWER));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { port: (server.address() as net.AddressInfo).port, server };
}

interface Sent {
  /** What the client read. */
  readonly answer: string;
  /** The error its socket saw, if any (a reset: ECONNRESET or EPIPE). */
  readonly error?: string;
  /** Milliseconds from connecting to the socket's close. */
  readonly closedAfterMs: number;
}

/** Connects and writes `chunk` every `everyMs` for `forMs` (or until the socket closes), then ends. */
async function send(port: number, chunk: Buffer, everyMs: number, forMs: number): Promise<Sent> {
  const started = Date.now();
  // Half-open, as an HTTP client still sending its body: the server's FIN does not end it.
  const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  let answer = '';
  let error: string | undefined;
  socket.on('data', (d: Buffer) => (answer += d.toString()));
  socket.on('error', (e: NodeJS.ErrnoException) => (error ??= e.code));
  await once(socket, 'connect');
  const writer = setInterval(() => {
    if (socket.destroyed || !socket.writable) return;
    if (Date.now() - started >= forMs) socket.end();
    else socket.write(chunk);
  }, everyMs);
  // Not events.once: it rejects on the 'error' that a cut connection emits.
  await new Promise((resolve) => socket.once('close', resolve));
  clearInterval(writer);
  return { answer, ...(error === undefined ? {} : { error }), closedAfterMs: Date.now() - started };
}

describe('lingering close', () => {
  it('lets a client that keeps sending briskly finish and read its answer, without a reset', async () => {
    const closer = createLingeringCloser(4, { lingerMs: 150, minBytes: 1024, maxMs: 5_000 });
    const { port, server } = await refusingServer(closer);
    try {
      // 64 KiB every 10 ms for 1 s: several windows, each well over 1 KiB.
      const sent = await send(port, Buffer.alloc(64 * 1024), 10, 1_000);
      expect(sent.answer).to.equal(ANSWER);
      expect(sent.error, 'socket error').to.equal(undefined);
      expect(sent.closedAfterMs).to.be.at.least(1_000);
      await waitFor(() => closer.lingering === 0, 'the server side closed');
    } finally {
      server.close();
    }
  });

  it('cuts a slow sender after one window', async () => {
    const closer = createLingeringCloser(4, { lingerMs: 150, minBytes: 1024, maxMs: 5_000 });
    const { port, server } = await refusingServer(closer);
    try {
      // 10 bytes every 20 ms would go on for 10 s.
      const sent = await send(port, Buffer.alloc(10), 20, 10_000);
      expect(sent.answer).to.equal(ANSWER);
      expect(sent.closedAfterMs).to.be.below(3_000);
      await waitFor(() => closer.lingering === 0, 'the server side closed');
    } finally {
      server.close();
    }
  });

  it('cuts a brisk sender that never ends after the longest linger', async () => {
    const closer = createLingeringCloser(4, { lingerMs: 100, minBytes: 1024, maxMs: 400 });
    const { port, server } = await refusingServer(closer);
    try {
      const sent = await send(port, Buffer.alloc(64 * 1024), 10, 10_000);
      expect(sent.answer).to.equal(ANSWER);
      expect(sent.closedAfterMs).to.be.below(3_000);
    } finally {
      server.close();
    }
  });

  it('destroys at once beyond its bound on lingering sockets, after writing the answer', async () => {
    const closer = createLingeringCloser(0, { lingerMs: 5_000 });
    const { port, server } = await refusingServer(closer);
    try {
      const sent = await send(port, Buffer.alloc(10), 20, 10_000);
      expect(sent.closedAfterMs).to.be.below(3_000);
      await waitFor(() => closer.lingering === 0, 'the server side closed');
    } finally {
      server.close();
    }
  });
});
