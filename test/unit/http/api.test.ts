/**
 * What src/http/api.ts relies on inside openapi-backend, whose version package.json pins
 * exactly for that reason: when one of these fails after an upgrade, the override in api.ts or the
 * memoised routing (routing-memo.ts) no longer does what its comment says.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { OpenAPIBackend, OpenAPIRouter, type Operation, type Request } from 'openapi-backend';
import type { OperationHandlers } from '../../../src/http/operation.js';
import { createApi } from '../../../src/http/api.js';
import { memoiseRouting } from '../../../src/http/routing-memo.js';
import { readSpec, rootDir } from '../../../src/spec.js';

const pkg = JSON.parse(readFileSync(path.join(rootDir, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };

/** A no-op handler for every operation of the spec. */
function noHandlers(): OperationHandlers {
  const ids = Object.values(readSpec().paths ?? {}).flatMap((item) =>
    Object.values(item ?? {}).flatMap((op) => (typeof op === 'object' && op && 'operationId' in op ? [String(op.operationId)] : [])),
  );
  return Object.fromEntries(ids.map((id) => [id, () => {}])) as unknown as OperationHandlers;
}

describe('http/api: what it relies on inside openapi-backend', () => {
  it('openapi-backend is pinned to an exact version', () => {
    expect(pkg.dependencies['openapi-backend']).to.match(/^\d+\.\d+\.\d+$/);
  });

  it('init() checks the document through validateDefinition(), which still refuses our OpenAPI 3.1 spec', async () => {
    let calls = 0;
    class Probe extends OpenAPIBackend {
      override validateDefinition() {
        calls++;
        return this.document;
      }
    }
    await new Probe({ definition: readSpec(), strict: true, quick: false }).init();
    expect(calls, 'validateDefinition() calls during init()').to.equal(1);
    // Once openapi-backend accepts 3.1 itself, the override in api.ts can go.
    const refused = await new OpenAPIBackend({ definition: readSpec(), strict: true, quick: false })
      .init()
      .then(() => undefined, (err: unknown) => err);
    expect(refused, 'the unpatched backend on our spec').to.be.instanceOf(Error);
  });

  it('routes through router.getOperations(), which createApi() memoises', async () => {
    const { api } = await createApi({ definition: readSpec(), handlers: noHandlers(), limits: { maxUploadBytes: 1024 } });
    const operations = api.router.getOperations();
    expect(api.router.getOperations(), 'the same list at each call').to.equal(operations);
    let calls = 0;
    const memoised = api.router.getOperations.bind(api.router);
    api.router.getOperations = () => {
      calls++;
      return memoised();
    };
    const matched = api.router.matchOperation({ method: 'get', path: '/health', headers: {} });
    expect(calls, 'getOperations() calls while matching').to.be.greaterThan(0);
    expect(operations, 'the matched operation is one of the memoised list').to.include(matched);
  });

  it('matches through router.matchOperation(), which createApi() memoises: what openapi-backend itself matches, for every path of the spec', async () => {
    const definition = readSpec();
    const { api } = await createApi({ definition, handlers: noHandlers(), limits: { maxUploadBytes: 1024 } });
    const own = new OpenAPIRouter({ definition });
    const id = (op: Operation | undefined): string | undefined => op?.operationId;
    const paths = Object.keys(definition.paths ?? {}).flatMap((p) => [p.replace(/\{[^}]+\}/g, 'catdog'), p.replace(/\{[^}]+\}/g, 'x1')]);
    for (const path of [...paths, '/nowhere', '/v2/models/catdog/nowhere']) {
      for (const method of ['get', 'post', 'put', 'delete', 'POST']) {
        const req: Request = { method, path, headers: {} };
        // Twice: the second answer comes from what was kept.
        for (const round of [1, 2]) expect(id(api.router.matchOperation(req)), `${method} ${path} (${round})`).to.equal(id(own.matchOperation(req)));
      }
    }
    // Strict matching still throws openapi-backend's own 404 and 405.
    expect(() => api.router.matchOperation({ method: 'get', path: '/nowhere', headers: {} }, true)).to.throw(/^404-notFound/);
    expect(() => api.router.matchOperation({ method: 'delete', path: '/upload', headers: {} }, true)).to.throw(/^405-methodNotAllowed/);
  });

  it('memoiseRouting() asks openapi-backend once per method and path, and keeps at most the matches it is allowed', () => {
    const router = new OpenAPIRouter({ definition: readSpec() });
    const asked: string[] = [];
    const own = router.matchOperation.bind(router) as (req: Request, strict?: boolean) => Operation | undefined;
    router.matchOperation = ((req: Request, strict?: boolean) => {
      asked.push(`${req.method} ${req.path}`);
      return own(req, strict);
    }) as typeof router.matchOperation;
    const routing = memoiseRouting(router, 4);
    const infer = (model: string): Request => ({ method: 'post', path: `/v2/models/${model}/infer`, headers: {} });
    for (let i = 0; i < 3; i++) expect(router.matchOperation(infer('catdog'))?.operationId).to.equal('inferModel');
    expect(asked).to.deep.equal(['post /v2/models/catdog/infer']);
    // Made-up model names: each is matched, and the oldest kept matches make way.
    for (let i = 0; i < 10; i++) expect(router.matchOperation(infer(`m${i}`))?.operationId).to.equal('inferModel');
    expect(routing.kept()).to.equal(4);
    expect(router.matchOperation(infer('catdog'))?.operationId).to.equal('inferModel');
    expect(asked).to.have.length(12);
  });
});
