/**
 * A typed HTTP client of the service, generated from the spec: the request and response types
 * are openapi-typescript's `paths` (in `generated/`, from `make generate`), the calls are
 * openapi-fetch's. A spec change that breaks a caller (a renamed path, a changed schema) breaks
 * the type-check of that caller.
 *
 * ```ts
 * const client = createClassifierClient({ baseUrl: 'http://localhost:8080', token });
 * const { data, error } = await classifyImage(client, await readFile('cat.png'), { filename: 'cat.png' });
 * ```
 */
import createClient, { type Client, type Middleware } from 'openapi-fetch';
import type { components, paths } from '../../generated/openapi.js';

/** The client: `client.GET('/health')`, `client.POST('/upload', …)`, typed by the spec. */
export type ClassifierClient = Client<paths>;

/** `POST /upload`'s 200 answer. */
export type Prediction = components['schemas']['Prediction'];

/** An RFC 9457 problem, the body of every error answer. */
export type Problem = components['schemas']['Problem'];

/** Options of {@link createClassifierClient}. */
export interface ClassifierClientOptions {
  /** Where the service is, e.g. `http://localhost:8080` (no trailing path). */
  readonly baseUrl: string;
  /**
   * An OAuth 2.0 access token sent as `Authorization: Bearer …` on every request, or a function
   * called before each request (to refresh a short-lived token). Omitted: no `Authorization`.
   */
  readonly token?: string | (() => string | Promise<string>);
  /** A `fetch` to use instead of the global one (tests, proxies). */
  readonly fetch?: (input: Request) => Promise<Response>;
}

/** Creates a client of the service. */
export function createClassifierClient(options: ClassifierClientOptions): ClassifierClient {
  const client = createClient<paths>({
    baseUrl: options.baseUrl.replace(/\/+$/, ''),
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
  const { token } = options;
  if (token !== undefined) client.use(bearer(token));
  return client;
}

function bearer(token: string | (() => string | Promise<string>)): Middleware {
  return {
    async onRequest({ request }) {
      const value = typeof token === 'function' ? await token() : token;
      request.headers.set('authorization', `Bearer ${value}`);
      return request;
    },
  };
}

/** What {@link classifyImage} resolves to: `data` on 200, otherwise `error`, and the response. */
export type ClassifyResult =
  | { readonly data: Prediction; readonly error?: never; readonly response: Response }
  | { readonly data?: never; readonly error: Problem; readonly response: Response };

/** Options of {@link classifyImage}. */
export interface ClassifyOptions {
  /** File name sent in the multipart part; default `image`. */
  readonly filename?: string;
  /** Media type of the part; default `application/octet-stream` (the service sniffs the bytes). */
  readonly type?: string;
  readonly signal?: AbortSignal;
}

/**
 * `POST /upload` with `image` as the multipart part `file`. Resolves to openapi-fetch's
 * `{ data, error, response }`: `data` is the {@link Prediction} on 200, `error` the
 * {@link Problem} otherwise.
 */
export function classifyImage(
  client: ClassifierClient,
  image: Blob | Uint8Array,
  options: ClassifyOptions = {},
): Promise<ClassifyResult> {
  const blob =
    image instanceof Blob ? image : new Blob([image], { type: options.type ?? 'application/octet-stream' });
  return client.POST('/upload', {
    // openapi-typescript types `format: binary` as a string; the serializer below sends the bytes.
    body: { file: '' },
    bodySerializer() {
      const form = new FormData();
      form.append('file', blob, options.filename ?? 'image');
      return form;
    },
    ...(options.signal ? { signal: options.signal } : {}),
  });
}
