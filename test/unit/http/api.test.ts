/**
 * What src/http/api.ts relies on inside openapi-backend, whose version package.json pins
 * exactly for that reason: when one of these fails after an upgrade, the override or the
 * memoisation in api.ts no longer does what its comment says.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { OpenAPIBackend } from 'openapi-backend';
import type { OperationHandlers } from '../../../src/http/operation.js';
import { createApi } from '../../../src/http/api.js';
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
});
