/**
 * The page's calls to the service, through openapi-fetch typed by the spec (`generated/`, from
 * `make generate`), like the project's Node client: a change of the spec that breaks the page
 * breaks its type-check (`make typecheck`).
 */
import createClient, { type Middleware } from 'openapi-fetch';
import type { components, paths } from '../../generated/openapi.js';

/** `POST /upload`'s answer. */
export type Prediction = components['schemas']['Prediction'];
/** `POST /explain`'s answer (as JSON). */
export type Explanation = components['schemas']['Explanation'];
/** The heatmap in an {@link Explanation}. */
export type Heatmap = components['schemas']['Heatmap'];
/** An RFC 9457 problem, the body of every error answer. */
export type Problem = components['schemas']['Problem'];
/** `GET /ui/config`: how the page signs in. */
export type UiConfig = components['schemas']['UiConfig'];

/** A captured answer (`GET /captures`), with its latest feedback. */
export type Capture = components['schemas']['Capture'];

/** A call's outcome: the answer, or the problem the service answered with. */
export type Outcome<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly problem: Problem };

/** What the service answered to a photo, and how long the round trip took. */
export interface Answer {
  readonly prediction: Prediction;
  /** From sending the photo to reading the answer, in milliseconds. */
  readonly roundTripMs: number;
}

/** A typed client of the service this page came from, sending the page's token (if any) with each call. */
export function serviceClient(token: () => string | undefined) {
  const client = createClient<paths>({ baseUrl: window.location.origin });
  const bearer: Middleware = {
    onRequest({ request }) {
      const value = token();
      if (value !== undefined) request.headers.set('authorization', `Bearer ${value}`);
      return request;
    },
  };
  client.use(bearer);
  return client;
}

/** The service this page came from. */
export function createApi(token: () => string | undefined) {
  const client = serviceClient(token);

  /** `response`'s problem, or the answer's body when it is not an error. */
  const problemOf = async (response: Response): Promise<Problem> => {
    let body: unknown;
    try {
      body = await response.json();
    } catch {
      body = undefined;
    }
    return asProblem(body, response);
  };

  return {
    /** `GET /ui/config`. */
    async uiConfig(): Promise<UiConfig> {
      const { data, response } = await client.GET('/ui/config');
      if (!data) throw new Error(`GET /ui/config answered ${response.status}`);
      return data;
    },

    /** `POST /upload` with `photo`. */
    async classify(photo: Blob, name: string): Promise<Outcome<Answer>> {
      const started = performance.now();
      const { data, error, response } = await client.POST('/upload', {
        // openapi-typescript types `format: binary` as a string; the serializer sends the bytes.
        body: { file: '' },
        bodySerializer: () => form(photo, name),
      });
      if (error !== undefined) return { ok: false, problem: asProblem(error, response) };
      return { ok: true, value: { prediction: data, roundTripMs: performance.now() - started } };
    },

    /** `POST /explain` with `photo`, as JSON: the heatmap of where the answer comes from. */
    async explain(photo: Blob, name: string, signal: AbortSignal): Promise<Outcome<Explanation>> {
      const { data, error, response } = await client.POST('/explain', {
        body: { file: '' },
        bodySerializer: () => form(photo, name),
        headers: { accept: 'application/json' },
        signal,
      });
      if (error !== undefined) return { ok: false, problem: asProblem(error, response) };
      return { ok: true, value: data as Explanation };
    },

    /** `GET /captures` without feedback, the least confident first (the Review view's queue). */
    async unlabelled(limit: number): Promise<Outcome<Capture[]>> {
      const { data, error, response } = await client.GET('/captures', {
        params: { query: { order: 'least-confidence', labelled: false, limit } },
      });
      if (error !== undefined) return { ok: false, problem: asProblem(error, response) };
      return { ok: true, value: (data as { captures: Capture[] }).captures };
    },

    /** How many captures have feedback, counted up to `limit` (`GET /captures?labelled=true`). */
    async labelledCount(limit: number): Promise<Outcome<number>> {
      const { data, error, response } = await client.GET('/captures', {
        params: { query: { order: 'newest', labelled: true, limit } },
      });
      if (error !== undefined) return { ok: false, problem: asProblem(error, response) };
      return { ok: true, value: (data as { captures: Capture[] }).captures.length };
    },

    /** The image of `capture`, from its `image.url` on this service, with the same token. */
    async captureImage(capture: Capture): Promise<Outcome<Blob>> {
      const url = new URL(capture.image.url, window.location.origin);
      if (url.origin !== window.location.origin) throw new Error(`the capture's image is elsewhere (${url.origin})`);
      const value = token();
      const response = await fetch(url, { headers: value === undefined ? {} : { authorization: `Bearer ${value}` } });
      if (!response.ok) return { ok: false, problem: await problemOf(response) };
      return { ok: true, value: await response.blob() };
    },

    /** `POST /feedback`: `capture` should have answered `label`. */
    async feedback(capture: Capture, label: string): Promise<Outcome<undefined>> {
      const { error, response } = await client.POST('/feedback', { body: { id: capture.id, label } });
      if (error !== undefined) return { ok: false, problem: asProblem(error, response) };
      return { ok: true, value: undefined };
    },
  };
}

/** A multipart form with `photo` as its part `file`. */
function form(photo: Blob, name: string): FormData {
  const body = new FormData();
  body.append('file', photo, name);
  return body;
}

/**
 * The problem in an error answer. An answer that is not one (a proxy's HTML page, say) becomes
 * an `internal` problem carrying its status.
 */
function asProblem(error: unknown, response: Response): Problem {
  if (typeof error === 'object' && error !== null && typeof (error as Problem).code === 'string') return error as Problem;
  return {
    type: 'about:blank',
    title: response.statusText || 'Unexpected answer',
    status: response.status,
    code: 'internal',
    detail: `The service answered HTTP ${response.status} without an explanation`,
  };
}
