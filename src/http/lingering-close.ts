/**
 * Closing a connection whose client may still be sending: the answer first, then a half-close
 * (FIN), then whatever still arrives is read and discarded for a short while, then the socket
 * is destroyed.
 *
 * Why not destroy at once: closing a socket with unread data makes the kernel send a reset, and
 * a client that is still uploading can lose the answer it was sent just before (RFC 9112 §9.6:
 * "the server [...] continue[s] to read from the connection until it receives a corresponding
 * close by the client, or until the server is reasonably certain that its own TCP stack has
 * received the client's acknowledgement"). Why not drain to the end: a client sending slowly, or
 * without end, would keep the connection as long as it likes. The linger is the compromise
 * Apache and nginx make (`lingering_close`): here windows of {@link LINGER_MS}, renewed while the
 * client still sends at least {@link LINGER_MIN_BYTES} a window (a fast upload that was refused
 * on its first bytes, still on its way), up to {@link LINGER_MAX_MS} in all. A slow sender is cut
 * after one window; a fast one reads its answer instead of a reset.
 */
import type { Socket } from 'node:net';

/** How long a closing connection is read and discarded before it is destroyed, in milliseconds. */
const LINGER_MS = 2_000;
/** Bytes a client must send within a window for the linger to be renewed (256 KiB/s). */
const LINGER_MIN_BYTES = 512 * 1024;
/** The longest linger, renewals included, in milliseconds. */
const LINGER_MAX_MS = 15_000;

/** Closes sockets after a linger; at most `maxLingering` linger at once, further ones are destroyed at once. */
export interface LingeringCloser {
  /**
   * Writes `data` (a whole raw answer) if given, half-closes `socket`, discards what the client
   * still sends, and destroys it when the client closes its side, after a window of
   * {@link LINGER_MS} in which it sent less than {@link LINGER_MIN_BYTES}, or after {@link LINGER_MAX_MS}.
   */
  close(socket: Socket, data?: string): void;
  /** Whether `socket` is closing: it must not start another request. */
  isClosing(socket: Socket): boolean;
  /** Sockets lingering now. */
  readonly lingering: number;
}

/** Creates a closer; `maxLingering` bounds the sockets (file descriptors) a flood of refusals can hold. */
export function createLingeringCloser(
  maxLingering: number,
  { lingerMs = LINGER_MS, minBytes = LINGER_MIN_BYTES, maxMs = LINGER_MAX_MS } = {},
): LingeringCloser {
  const closing = new WeakSet<Socket>();
  let lingering = 0;
  return {
    close(socket, data) {
      if (closing.has(socket) || socket.destroyed) return;
      closing.add(socket);
      if (lingering >= maxLingering || !socket.writable) {
        if (data !== undefined && socket.writable) socket.end(data);
        socket.destroy();
        return;
      }
      lingering++;
      // bytesRead, not 'data' events: for a socket the HTTP parser reads, the parser consumes
      // the data without emitting them.
      const started = Date.now();
      let readBefore = socket.bytesRead;
      const windowEnd = (): void => {
        const sent = socket.bytesRead - readBefore;
        readBefore = socket.bytesRead;
        if (sent < minBytes || Date.now() - started + lingerMs > maxMs) socket.destroy();
        else timer = setTimeout(windowEnd, lingerMs).unref();
      };
      let timer = setTimeout(windowEnd, lingerMs).unref();
      socket.once('close', () => {
        lingering--;
        clearTimeout(timer);
      });
      // Errors (a reset from the client) only end the linger early.
      socket.on('error', () => socket.destroy());
      if (data === undefined) socket.end();
      else socket.end(data);
      // For a socket the HTTP parser reads (a refused request), the parser discards the rest of
      // the body; for a raw one, nobody reads: discard here.
      socket.resume();
    },
    isClosing(socket) {
      return closing.has(socket);
    },
    get lingering() {
      return lingering;
    },
  };
}
