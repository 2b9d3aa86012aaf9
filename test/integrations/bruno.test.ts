/**
 * The Bruno collection (`bruno/`) is written by hand, once; this keeps it in step with the spec:
 * one request per operation, with the operation's summary, method, path, authentication and
 * multipart fields, and nothing the spec does not define (besides the deliberate requests
 * "… without a token", which must expect 401). Bruno's CLI runs it in collections.test.ts.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { readSpec, rootDir } from '../../src/spec.js';
import { tokenRequired } from '../../scripts/postman.js';

const brunoDir = path.join(rootDir, 'bruno');

/** The blocks of a .bru file (`name { … }` or `name [ … ]`), by name, with their inner text. */
function blocks(text: string): Map<string, string> {
  const found = new Map<string, string>();
  for (const m of text.matchAll(/^([\w:-]+) ([{[])\n([\s\S]*?)\n[}\]]$/gm)) found.set(m[1]!, m[3]!);
  return found;
}

/** `key: value` lines of a block. */
function dict(block: string | undefined): Record<string, string> {
  return Object.fromEntries(
    (block ?? '').split('\n').map((l) => /^\s*([^:\s][^:]*?):\s*(.*)$/.exec(l)).filter((m) => m).map((m) => [m![1]!, m![2]!]),
  );
}

const methods = ['get', 'post', 'put', 'patch', 'delete'];
const requests = readdirSync(brunoDir)
  .filter((f) => f.endsWith('.bru'))
  .map((file) => {
    const b = blocks(readFileSync(path.join(brunoDir, file), 'utf8'));
    const method = methods.find((m) => b.has(m));
    const http = dict(method ? b.get(method) : undefined);
    return {
      file,
      name: dict(b.get('meta')).name,
      method: method?.toUpperCase(),
      // Bruno writes path parameters `:name`, OpenAPI `{name}`.
      path: http.url?.replace('{{baseUrl}}', '').replace(/:(\w+)/g, '{$1}'),
      auth: http.auth,
      body: http.body,
      multipart: Object.keys(dict(b.get('body:multipart-form'))),
      assert: dict(b.get('assert')),
      bearer: dict(b.get('auth:bearer')).token,
    };
  });

type RequestBody = { content: Record<string, { schema: { $ref?: string; properties?: object } }> };
type Operation = { summary: string; requestBody?: RequestBody | { $ref: string } };
const spec = readSpec();
const operations = Object.entries(spec.paths ?? {}).flatMap(([p, item]) =>
  Object.entries(item as Record<string, Operation>)
    .filter(([m]) => methods.includes(m))
    .map(([m, op]) => ({ method: m.toUpperCase(), path: p, op, secured: tokenRequired(spec, m, p) })),
);
function multipartFields(op: Operation): string[] {
  const body = op.requestBody && '$ref' in op.requestBody
    ? (spec.components?.requestBodies?.[op.requestBody.$ref.split('/').at(-1)!] as RequestBody | undefined)
    : op.requestBody;
  const schema = body?.content['multipart/form-data']?.schema;
  if (!schema) return [];
  const resolved = schema.$ref
    ? (spec.components?.schemas?.[schema.$ref.split('/').at(-1)!] as { properties?: object })
    : schema;
  return Object.keys(resolved.properties ?? {});
}

describe('Bruno collection (bruno/)', () => {
  it('has a request for every operation of the spec, with its summary, method, path, auth and fields', () => {
    for (const { method, path: p, op, secured } of operations) {
      const matching = requests.filter((r) => r.method === method && r.path === p && r.name === op.summary);
      expect(matching.map((r) => r.file), `${method} ${p} "${op.summary}"`).to.have.length(1);
      const [request] = matching;
      expect(request!.auth, `${request!.file} auth`).to.equal(secured ? 'bearer' : 'none');
      if (secured) expect(request!.bearer).to.equal('{{token}}');
      const fields = multipartFields(op);
      if (fields.length) {
        expect(request!.body).to.equal('multipartForm');
        expect(request!.multipart, `${request!.file} multipart fields`).to.deep.equal(fields);
      }
    }
  });

  it('has no request the spec does not define, except the secured ones without a token, which expect 401', () => {
    for (const request of requests) {
      const base = request.name?.replace(/ without a token$/, '');
      const operation = operations.find((o) => o.method === request.method && o.path === request.path && o.op.summary === base);
      expect(operation, `${request.file}: ${request.method} ${request.path} "${base}" in the spec`).to.not.equal(undefined);
      if (base !== request.name) {
        expect(operation!.secured, `${request.file}: a secured operation`).to.equal(true);
        expect(request.auth).to.equal('none');
        expect(request.assert['res.status']).to.equal('eq 401');
      }
    }
  });

  it('has an environment with the base URL and the token as a secret', () => {
    const env = blocks(readFileSync(path.join(brunoDir, 'environments', 'local.bru'), 'utf8'));
    expect(dict(env.get('vars'))).to.have.property('baseUrl');
    expect(env.get('vars:secret')?.split('\n').map((l) => l.trim().replace(/,$/, ''))).to.include('token');
  });
});
