/**
 * One request for the issuer's key set: a GET with a timeout whose answer is read up to
 * {@link KEY_SET_MAX_BYTES}. A larger answer, a status other than 200, a redirect, a body that is
 * not a JSON key set (`{"keys": [...]}`) or no answer within the timeout is a failure: the issuer
 * is unavailable. When to ask, and what to do with a failure, is `key-set-cache.ts`'s business.
 */
import type { JSONWebKeySet } from 'jose';

/** Largest key set accepted, in bytes: a few dozen keys take a few kilobytes. */
export const KEY_SET_MAX_BYTES = 256 * 1024;

/** What the fetch needs. */
export interface KeySetFetchOptions {
  /** Time the issuer has to answer, body included, in milliseconds. */
  readonly timeoutMs: number;
  /** Largest body accepted; default {@link KEY_SET_MAX_BYTES}. */
  readonly maxBytes?: number;
  /** The network; default the global `fetch`. */
  readonly fetch?: typeof fetch;
}

/** The key set could not be obtained: unreachable, too slow, an error status, too large, not a key set. */
class KeySetFetchFailed extends Error {
  readonly code = 'key-set-fetch-failed';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'KeySetFetchFailed';
  }
}

/** Fetches a key set; see the module comment. */
export type KeySetFetch = (url: URL) => Promise<JSONWebKeySet>;

/** Reads `response`'s body, refusing it beyond `maxBytes` without reading further. */
async function readCapped(response: Response, maxBytes: number): Promise<string> {
  const declared = Number(response.headers.get('content-length') ?? NaN);
  if (declared > maxBytes) {
    await response.body?.cancel();
    throw new KeySetFetchFailed(`the key set is ${declared} bytes, over the limit of ${maxBytes}`);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  // Node's fetch types the body's chunks as any; they are bytes.
  const reader = response.body?.getReader() as ReadableStreamDefaultReader<Uint8Array> | undefined;
  if (reader) {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > maxBytes) {
        await reader.cancel();
        throw new KeySetFetchFailed(`the key set is over the limit of ${maxBytes} bytes`);
      }
      chunks.push(value);
    }
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Creates the fetch; see the module comment. */
export function createKeySetFetch(options: KeySetFetchOptions): KeySetFetch {
  const maxBytes = options.maxBytes ?? KEY_SET_MAX_BYTES;
  const network = options.fetch ?? fetch;

  return async (url) => {
    const signal = AbortSignal.timeout(options.timeoutMs);
    try {
      const response = await network(url, {
        signal,
        // A key set that moved is a configuration to fix, not a redirect to follow blindly.
        redirect: 'manual',
        headers: { accept: 'application/jwk-set+json, application/json' },
      });
      if (response.status !== 200) {
        await response.body?.cancel();
        throw new KeySetFetchFailed(`the key set answered HTTP ${response.status}`);
      }
      const body = await readCapped(response, maxBytes);
      let json: unknown;
      try {
        json = JSON.parse(body);
      } catch (cause) {
        throw new KeySetFetchFailed('the key set is not JSON', { cause });
      }
      if (typeof json !== 'object' || json === null || !Array.isArray((json as { keys?: unknown }).keys)) {
        throw new KeySetFetchFailed('the key set is not a JSON Web Key Set ({"keys": [...]})');
      }
      return json as JSONWebKeySet;
    } catch (cause) {
      if (cause instanceof KeySetFetchFailed) throw cause;
      // The timeout aborts the request or the reading of its body, whichever is under way.
      if (signal.aborted) throw new KeySetFetchFailed(`the key set did not answer within ${options.timeoutMs} ms`, { cause });
      throw new KeySetFetchFailed(`the key set cannot be fetched: ${(cause as Error).message}`, { cause });
    }
  };
}
