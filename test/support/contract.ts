/**
 * Response checks against the spec: every contract test validates what it receives.
 */
import { expect } from 'chai';
import type { OpenAPIBackend } from 'openapi-backend';
import type { OperationHandlers } from '../../src/http/operation.js';
import { createApi } from '../../src/http/api.js';
import { readSpec } from '../../src/spec.js';

/** A fetched response with its body parsed (JSON when the type says so). */
export interface Received {
  readonly status: number;
  readonly headers: Headers;
  readonly body: unknown;
  readonly text: string;
}

/** Fetches and reads the whole response. */
export async function receive(url: string, init?: RequestInit): Promise<Received> {
  const res = await fetch(url, init);
  const text = await res.text();
  const type = res.headers.get('content-type') ?? '';
  const body = /json/.test(type) && text ? (JSON.parse(text) as unknown) : text;
  return { status: res.status, headers: res.headers, body, text };
}

/**
 * What the generated client (openapi-fetch) resolved to, as a {@link Received}: the client has
 * read and parsed the body, so `text` is the parsed body serialised again.
 */
export function receivedFromClient(result: { data?: unknown; error?: unknown; response: Response }): Received {
  const body = result.response.ok ? result.data : result.error;
  return {
    status: result.response.status,
    headers: result.response.headers,
    body,
    text: typeof body === 'string' ? body : JSON.stringify(body),
  };
}

/**
 * Asserts that the response is one the spec documents for `operationId`: the status is listed,
 * the content type is one the spec gives for it, and the body validates against its schema.
 */
export function expectMatchesSpec(api: OpenAPIBackend, operationId: string, res: Received): void {
  const operation = api.getOperation(operationId);
  expect(operation, `operation ${operationId}`).to.not.equal(undefined);
  const responses = operation!.responses as Record<string, { content?: Record<string, unknown> }>;
  const documented = responses[String(res.status)];
  expect(documented, `${operationId} documents status ${res.status}`).to.not.equal(undefined);
  const mediaType = (res.headers.get('content-type') ?? '').split(';')[0]!.trim();
  if (documented!.content) {
    expect(Object.keys(documented!.content), 'documented content types').to.include(mediaType);
  }
  const result = api.validateResponse(res.body, operationId, res.status);
  expect(result.errors ?? [], `response body matches the spec: ${JSON.stringify(result.errors)}`).to.deep.equal([]);
}

/** Asserts an RFC 9457 problem with the given status and code. */
export function expectProblem(res: Received, status: number, code: string): void {
  expect(res.status, res.text).to.equal(status);
  expect(res.headers.get('content-type')).to.match(/^application\/problem\+json/);
  const body = res.body as Record<string, unknown>;
  expect(body.status).to.equal(status);
  expect(body.code).to.equal(code);
  expect(body.type).to.equal(`urn:cat-dog-other:problem:${code}`);
  expect(body.title).to.be.a('string').with.length.greaterThan(0);
}

/**
 * The spec's own validator, apart from any app: for answers of a spawned service, which has no
 * `api` to hand to {@link expectMatchesSpec}.
 */
export async function specApi(): Promise<OpenAPIBackend> {
  const definition = readSpec();
  // Validation reads only the operations: a no-op for each, none ever runs.
  const ids = Object.values(definition.paths ?? {}).flatMap((item) =>
    Object.values(item ?? {}).flatMap((op) => (typeof op === 'object' && op && 'operationId' in op ? [String(op.operationId)] : [])));
  const handlers = Object.fromEntries(ids.map((id) => [id, () => {}])) as unknown as OperationHandlers;
  const { api } = await createApi({ definition, handlers, limits: { maxUploadBytes: 1024 } });
  return api;
}
