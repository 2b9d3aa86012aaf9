/**
 * `make model`: obtains the default backbone weights and verifies their pinned SHA-256.
 *
 *   MODEL_SOURCE=<url or local path> tsx scripts/fetch-model.ts
 *
 * The weights are never committed: they come from the ONNX Model Zoo (default) or a local copy.
 * A file already in place with the right hash is kept. When the weights cannot be obtained, one
 * message says what was tried (the URL or path), why it failed (DNS, refused connection, no
 * route, timeout, TLS, HTTP status, missing file, SHA-256 mismatch with both hashes) and how to
 * fix it (`MODEL_SOURCE`), and the exit status is 1.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The backbone's file name, as `resources/models/` and the manifests name it. */
export const weightsFile = 'mobilenetv2-12-int8.onnx';
/** Its pinned SHA-256 (hex): the ONNX Model Zoo's file. */
export const weightsSha256 = '83530ad811bc31d2b60a5599a21265a5057608c9b044b4ee758cc22f2309f54f';
/** Where it comes from unless MODEL_SOURCE says otherwise. */
export const defaultSource =
  'https://github.com/onnx/models/raw/main/validated/vision/classification/mobilenet/model/mobilenetv2-12-int8.onnx';

/** Why the weights could not be obtained. */
export type WeightsFailure =
  | 'host-not-found'
  | 'connection-refused'
  | 'no-route'
  | 'timeout'
  | 'tls'
  | 'network'
  | 'http-status'
  | 'unsupported-source'
  | 'file-not-found'
  | 'not-a-file'
  | 'permission-denied'
  | 'read-failed'
  | 'sha256-mismatch';

/** The weights could not be obtained from `source`; `reason` says why, in words. */
export class WeightsUnavailable extends Error {
  override readonly name = 'WeightsUnavailable';

  constructor(
    readonly code: WeightsFailure,
    readonly source: string,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`${source}: ${reason}`, options);
  }
}

/** Where to obtain the weights and what they must hash to. */
export interface WeightsRequest {
  /** An `http:`, `https:` or `file:` URL, or a local path (relative to the working folder). */
  readonly source: string;
  /** Expected SHA-256 of the file, hex. */
  readonly sha256: string;
  /** Time allowed for a download, from the request to the last byte, in milliseconds. */
  readonly timeoutMs: number;
}

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** The first string `code` on an error, its `cause` chain or, for an AggregateError, its first error. */
function errorCode(err: unknown): string | undefined {
  let current = err;
  for (let depth = 0; current !== null && typeof current === 'object' && depth < 5; depth++) {
    const { code, cause, errors } = current as { code?: unknown; cause?: unknown; errors?: unknown };
    if (typeof code === 'string') return code;
    current = Array.isArray(errors) && errors.length > 0 ? errors[0] : cause;
  }
  return undefined;
}

/** Node's fetch failure (undici: `TypeError: fetch failed` with the socket's error as cause), in words. */
export function describeFetchError(err: unknown, url: URL, timeoutMs: number): { code: WeightsFailure; reason: string } {
  const name = (err as { name?: unknown } | null)?.name;
  const code = errorCode(err);
  const host = url.hostname;
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  if (name === 'TimeoutError' || code === 'ETIMEDOUT' || (code?.startsWith('UND_ERR_') && code.endsWith('_TIMEOUT'))) {
    return { code: 'timeout', reason: `timeout: no complete answer from ${host} within ${timeoutMs / 1000} s` };
  }
  switch (code) {
    case 'ENOTFOUND':
      return { code: 'host-not-found', reason: `DNS failure: the host name ${host} does not resolve (ENOTFOUND)` };
    case 'EAI_AGAIN':
      return { code: 'host-not-found', reason: `DNS failure: ${host} could not be resolved (EAI_AGAIN: no name server answered; is this machine offline?)` };
    case 'ECONNREFUSED':
      return { code: 'connection-refused', reason: `connection refused by ${host} port ${port} (ECONNREFUSED: nothing listens there)` };
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EADDRNOTAVAIL':
      return { code: 'no-route', reason: `no route to ${host} (${code}: this machine has no network path to it)` };
  }
  if (code && /^(CERT_|UNABLE_TO_|SELF_SIGNED|DEPTH_ZERO|ERR_TLS_|ERR_SSL_)/.test(code)) {
    return { code: 'tls', reason: `TLS failure with ${host}: ${code} (a proxy or a missing CA certificate?)` };
  }
  const detail = code ?? (err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err));
  return { code: 'network', reason: `network error with ${host}: ${detail}` };
}

async function download(url: URL, timeoutMs: number): Promise<Uint8Array> {
  const source = url.href;
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    if (!response.ok) {
      await response.body?.cancel();
      const redirected = response.url && response.url !== source ? ` (redirected to ${response.url})` : '';
      throw new WeightsUnavailable('http-status', source, `HTTP ${response.status} ${response.statusText}${redirected}`.trim());
    }
    return new Uint8Array(await response.arrayBuffer());
  } catch (err) {
    if (err instanceof WeightsUnavailable) throw err;
    const { code, reason } = describeFetchError(err, url, timeoutMs);
    throw new WeightsUnavailable(code, source, reason, { cause: err });
  }
}

async function readLocal(source: string, file: string): Promise<Uint8Array> {
  const shown = source === file ? file : `${source} (${file})`;
  try {
    return await readFile(file);
  } catch (err) {
    const code = errorCode(err);
    if (code === 'ENOENT') throw new WeightsUnavailable('file-not-found', shown, 'file not found', { cause: err });
    if (code === 'EISDIR') throw new WeightsUnavailable('not-a-file', shown, 'a folder, not a file', { cause: err });
    if (code === 'EACCES' || code === 'EPERM') throw new WeightsUnavailable('permission-denied', shown, `permission denied (${code})`, { cause: err });
    throw new WeightsUnavailable('read-failed', shown, `cannot be read (${code ?? String(err)})`, { cause: err });
  }
}

/** Obtains the file `request.source` names and checks its SHA-256; throws {@link WeightsUnavailable}. */
export async function obtainWeights(request: WeightsRequest): Promise<Uint8Array> {
  const { source } = request;
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(source)?.[1]?.toLowerCase();
  let bytes: Uint8Array;
  if (scheme === 'http' || scheme === 'https') {
    bytes = await download(new URL(source), request.timeoutMs);
  } else if (scheme === 'file') {
    bytes = await readLocal(source, fileURLToPath(source));
  } else if (scheme !== undefined) {
    throw new WeightsUnavailable('unsupported-source', source, `${scheme}: URLs are not supported (http, https, file or a local path)`);
  } else {
    bytes = await readLocal(source, path.resolve(source));
  }
  const actual = sha256(bytes);
  if (actual !== request.sha256) {
    throw new WeightsUnavailable(
      'sha256-mismatch',
      source,
      `SHA-256 mismatch: got ${actual} (${bytes.length.toLocaleString('en')} bytes), expected ${request.sha256}`,
    );
  }
  return bytes;
}

/** The message `make model` prints for a failure: what was tried, why it failed, how to fix it. */
export function failureMessage(err: WeightsUnavailable): string {
  const fix =
    err.code === 'sha256-mismatch'
      ? `that file is not the pinned one (another version, or a truncated or altered copy); set MODEL_SOURCE to a good copy, e.g.`
      : `set MODEL_SOURCE to a URL or a local copy of the file, e.g.`;
  return [
    `make model: cannot obtain the backbone weights ${weightsFile}`,
    `  tried: ${err.source}`,
    `  why:   ${err.reason}`,
    `  fix:   ${fix}`,
    `           make model MODEL_SOURCE=path/to/${weightsFile}`,
    `         The file is published at ${defaultSource}`,
    `         (SHA-256 ${weightsSha256}).`,
  ].join('\n');
}

async function main(): Promise<void> {
  const target = path.resolve('resources/models', weightsFile);
  const shown = path.relative(process.cwd(), target);
  const present = await readFile(target).catch(() => undefined);
  if (present && sha256(present) === weightsSha256) {
    process.stdout.write(`${shown}: present, SHA-256 verified\n`);
    return;
  }
  const source = process.env.MODEL_SOURCE || defaultSource;
  const bytes = await obtainWeights({ source, sha256: weightsSha256, timeoutMs: 120_000 });
  await mkdir(path.dirname(target), { recursive: true });
  await writeFile(target + '.tmp', bytes);
  await rename(target + '.tmp', target);
  process.stdout.write(`${shown}: obtained from ${source}, SHA-256 verified\n`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    process.stderr.write(
      (err instanceof WeightsUnavailable ? failureMessage(err) : `make model: ${err instanceof Error ? err.message : String(err)}`) + '\n',
    );
    process.exit(1);
  });
}
