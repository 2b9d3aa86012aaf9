/**
 * Fetches a Label Studio task's image: only from Label Studio's own origin (a task's URL that
 * points elsewhere is refused, never fetched: the backend is nobody's proxy), no redirects
 * followed, at most `maxBytes` within `timeoutMs`.
 */
import { TaskImageRefused, TaskImageUnavailable } from '../../errors.js';
import type { LabelStudioHost } from './connection.js';

/** Bounds of one fetch. */
export interface FetchLimits {
  /** Most bytes an image may have (`MAX_UPLOAD_BYTES`, as an upload). */
  readonly maxBytes: number;
  /** Longest wait for the whole image, in milliseconds. */
  readonly timeoutMs: number;
}

/** The absolute URL of a task's image reference (Label Studio gives paths such as `/data/upload/1/x.png`), if on `host`. */
export function imageUrl(taskId: number, reference: unknown, host: LabelStudioHost | undefined): URL {
  if (typeof reference !== 'string' || reference === '') throw new TaskImageRefused(`Task ${taskId} has no image URL in its data`);
  if (host === undefined) {
    throw new TaskImageRefused('No Label Studio is known to fetch task images from: set LABEL_STUDIO_URL, or connect the model in Label Studio (its setup call)');
  }
  let url: URL;
  try {
    url = new URL(reference, host.origin);
  } catch {
    throw new TaskImageRefused(`Task ${taskId}: its image URL is not a URL`);
  }
  if (url.origin !== host.origin || url.username !== '' || url.password !== '') {
    throw new TaskImageRefused(`Task ${taskId}: its image is not on Label Studio's host (${host.origin}); it is not fetched`);
  }
  return url;
}

/** The bytes of `url`, read within `limits`. */
export async function fetchTaskImage(taskId: number, url: URL, host: LabelStudioHost, limits: FetchLimits): Promise<Uint8Array> {
  const signal = AbortSignal.timeout(limits.timeoutMs);
  const unavailable = (why: string, cause?: unknown): TaskImageUnavailable =>
    new TaskImageUnavailable(`Task ${taskId}: ${why}`, cause);
  let response: Response;
  try {
    response = await fetch(url, {
      redirect: 'manual',
      signal,
      headers: host.apiKey === undefined ? {} : { authorization: `Token ${host.apiKey}` },
    });
  } catch (err) {
    throw unavailable(signal.aborted ? `Label Studio did not answer for its image within ${limits.timeoutMs} ms` : 'Label Studio cannot be reached for its image', err);
  }
  try {
    if (response.status !== 200) throw unavailable(`Label Studio answered ${response.status} for its image`);
    const declared = Number(response.headers.get('content-length') ?? Number.NaN);
    if (declared > limits.maxBytes) throw unavailable(`its image is over ${limits.maxBytes} bytes`);
    if (!response.body) return new Uint8Array(0);
    const parts: Uint8Array[] = [];
    let total = 0;
    for await (const part of response.body as AsyncIterable<Uint8Array>) {
      total += part.byteLength;
      if (total > limits.maxBytes) throw unavailable(`its image is over ${limits.maxBytes} bytes`);
      parts.push(part);
    }
    return Buffer.concat(parts, total);
  } catch (err) {
    if (err instanceof TaskImageUnavailable) throw err;
    throw unavailable(signal.aborted ? `Label Studio did not give its image within ${limits.timeoutMs} ms` : 'reading its image from Label Studio failed', err);
  } finally {
    // Whatever was not read is not wanted.
    await response.body?.cancel().catch(() => {});
  }
}
