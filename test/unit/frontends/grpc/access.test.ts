/**
 * The RPC → REST operation table: every RPC needs exactly the scopes the spec declares for its
 * REST twin, and the table says what a reader expects of each.
 */
import { expect } from 'chai';
import { accessRules, RPC_OPERATIONS, type GuardedRpc } from '../../../../src/frontends/grpc/access.js';
import { INFERENCE_RPCS } from '../../../../src/frontends/grpc/proto.js';
import { readSpec, withoutAnonymousAccess } from '../../../../src/spec.js';

/** What each RPC needs, written out: public, public or a scope, or a scope. */
const expected: Record<GuardedRpc, string> = {
  ServerLive: 'public',
  ServerReady: 'public',
  ModelReady: 'public',
  ServerMetadata: 'public or get::prediction',
  ModelMetadata: 'public or get::prediction',
  ModelInfer: 'get::prediction',
  ModelStreamInfer: 'get::prediction',
  RepositoryIndex: 'manage::models',
  RepositoryModelLoad: 'manage::models',
  RepositoryModelUnload: 'manage::models',
  'Health.Check': 'public',
  'Health.Watch': 'public',
};

function describeRule(rule: { anonymous: boolean; alternatives: readonly (readonly string[])[] }): string {
  const scopes = [...new Set(rule.alternatives.map((a) => a.join(' ')))];
  if (rule.anonymous) return scopes.length === 0 ? 'public' : `public or ${scopes.join(' | ')}`;
  return scopes.join(' | ');
}

describe('gRPC access: RPC → REST operation', () => {
  it('every served RPC has a REST twin in the spec', () => {
    const spec = readSpec();
    const operationIds = Object.values(spec.paths ?? {}).flatMap((item) => Object.values(item ?? {}).map((o) => (o as { operationId?: string }).operationId));
    for (const rpc of INFERENCE_RPCS) expect(operationIds, rpc).to.include(RPC_OPERATIONS[rpc]);
  });

  it('each RPC needs the scopes the spec declares for its REST twin', () => {
    const rules = accessRules(readSpec());
    for (const [rpc, want] of Object.entries(expected)) expect(describeRule(rules[rpc as GuardedRpc]), rpc).to.equal(want);
  });

  it('MODEL_METADATA_PUBLIC=false (the spec as the app enforces it): the metadata RPCs need get::prediction', () => {
    const spec = readSpec();
    for (const op of ['getServerMetadata', 'getModelMetadata']) withoutAnonymousAccess(spec, op);
    const rules = accessRules(spec);
    expect(describeRule(rules.ServerMetadata)).to.equal('get::prediction');
    expect(describeRule(rules.ModelMetadata)).to.equal('get::prediction');
    expect(describeRule(rules.ModelReady)).to.equal('public');
  });
});
