/**
 * How the issuer's key set is fetched: jose's remote key set (`createRemoteJWKSet`) keeps and
 * refreshes the keys, and calls this function (its `customFetch` hook) whenever it wants them.
 *
 * - The issuer is asked at most once per cooldown, whatever the outcome. Within the cooldown the
 *   last answer stands: the same key set, or the same failure, without a request. jose asks
 *   whenever it has no keys, when its keys are older than the cache's maximum age, and for every
 *   token with an unknown `kid`: without this, every forged token sent while the issuer is down
 *   would cost a request to it.
 * - The answer is read up to {@link KEY_SET_MAX_BYTES}; a larger one, a status other than 200 or a
 *   body that is not a JSON key set (`{"keys": [...]}`) is a failure: the issuer is unavailable.
 *
 * Tokens whose keys are cached keep being verified while the cache is fresh (jose does not ask
 * then); only tokens that need keys the service does not have are answered 503 during an outage.
 */

/** Largest key set accepted, in bytes: a few dozen keys take a few kilobytes. */
export const KEY_SET_MAX_BYTES = 256 * 1024;

/** What the fetch needs. */
export interface KeySetFetchOptions {
  /** Least time between two requests to the issuer, in milliseconds. */
  readonly cooldownMs: number;
  /** Largest body accepted; default {@link KEY_SET_MAX_BYTES}. */
  readonly maxBytes?: number;
  /** Clock, for tests; default `Date.now`. */
  readonly now?: () => number;
  /** The network; default the global `fetch`. */
  readonly fetch?: typeof fetch;
}

/** The key set could not be obtained: unreachable, an error status, too large, not a key set. */
class KeySetFetchFailed extends Error {
  readonly code = 'key-set-fetch-failed';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'KeySetFetchFailed';
  }
}

/** jose's fetch hook: `(url, init) => Response`. */
export type KeySetFetch = (url: string, init: RequestInit) => Promise<Response>;

type Outcome = { readonly body: string } | { readonly error: Error };

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

/** Creates the fetch function for jose's `customFetch`; see the module comment. */
export function createKeySetFetch(options: KeySetFetchOptions): KeySetFetch {
  const now = options.now ?? Date.now;
  const maxBytes = options.maxBytes ?? KEY_SET_MAX_BYTES;
  const network = options.fetch ?? fetch;
  let last: { readonly at: number; readonly outcome: Outcome } | undefined;

  const request = async (url: string, init: RequestInit): Promise<string> => {
    let response: Response;
    try {
      response = await network(url, init);
    } catch (cause) {
      // jose turns a TimeoutError into its own timeout error; keep the name for it.
      if ((cause as Error).name === 'TimeoutError') throw cause;
      throw new KeySetFetchFailed(`the key set cannot be fetched: ${(cause as Error).message}`, { cause });
    }
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
    return body;
  };

  const replay = (outcome: Outcome): Response => {
    if ('error' in outcome) throw outcome.error;
    return new Response(outcome.body, { status: 200, headers: { 'content-type': 'application/json' } });
  };

  return async (url, init) => {
    if (last && now() - last.at < options.cooldownMs) return replay(last.outcome);
    const at = now();
    let outcome: Outcome;
    try {
      outcome = { body: await request(url, init) };
    } catch (error) {
      outcome = { error: error as Error };
    }
    last = { at, outcome };
    return replay(outcome);
  };
}
