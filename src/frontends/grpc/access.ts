/**
 * Who may call what: each RPC is the gRPC twin of a REST operation of the spec, and needs what the
 * spec's `security` says that operation needs (as this app enforces it: `MODEL_METADATA_PUBLIC`
 * and `METRICS_PUBLIC` included). The table {@link RPC_OPERATIONS} is the one place that pairs
 * them; `test/unit/frontends/grpc/access.test.ts` checks the scopes against `openapi/openapi.yaml`.
 *
 * The token travels as gRPC metadata `authorization: Bearer <jwt>` (what `grpcurl -H` and every
 * gRPC client send), is read by the REST path's own rules (`src/auth/bearer.ts`) and verified by
 * the same verifier; a missing or invalid token is UNAUTHENTICATED, a valid one without the scope
 * PERMISSION_DENIED, both with the reason as message (`status.ts`).
 */
import type { Metadata } from '@grpc/grpc-js';
import type { Document } from 'openapi-backend';
import type { operations } from '../../../generated/openapi.js';
import { defaultRealm, extractBearerToken } from '../../auth/bearer.js';
import { satisfiesAny } from '../../auth/scopes.js';
import type { AccessTokenVerifier } from '../../auth/verifier.js';
import { InsufficientScope, InvalidToken } from '../../errors.js';
import type { InferenceRpc } from './proto.js';

/** Every call the front-end authorises: the inference service's RPCs and the health service's. */
export type GuardedRpc = InferenceRpc | 'Health.Check' | 'Health.Watch';

/** The REST operation each RPC stands for: it needs what that operation needs. */
export const RPC_OPERATIONS: Readonly<Record<GuardedRpc, keyof operations>> = Object.freeze({
  ServerLive: 'getServerLive',
  ServerReady: 'getServerReady',
  ModelReady: 'getModelReady',
  ServerMetadata: 'getServerMetadata',
  ModelMetadata: 'getModelMetadata',
  ModelInfer: 'inferModel',
  ModelStreamInfer: 'inferModel',
  RepositoryIndex: 'repositoryIndex',
  RepositoryModelLoad: 'loadModel',
  RepositoryModelUnload: 'unloadModel',
  // The probes' readiness.
  'Health.Check': 'getReadiness',
  'Health.Watch': 'getReadiness',
});

/** What a call needs: nothing, or a token holding every scope of one of the alternatives. */
export interface AccessRule {
  readonly anonymous: boolean;
  /** One list of scopes per security requirement (OpenAPI: all of a list, any of the lists). */
  readonly alternatives: readonly (readonly string[])[];
}

type SecurityRequirement = Readonly<Record<string, readonly string[]>>;

/** The security of `operationId` in `definition`: its own, else the document's. */
function securityOf(definition: Document, operationId: string): readonly SecurityRequirement[] {
  for (const item of Object.values(definition.paths ?? {})) {
    for (const operation of Object.values(item ?? {}) as { operationId?: string; security?: SecurityRequirement[] }[]) {
      if (typeof operation === 'object' && operation?.operationId === operationId) return operation.security ?? definition.security ?? [];
    }
  }
  throw new Error(`operation ${operationId} is not in the spec`);
}

/**
 * The rule of each RPC, from `definition` (the spec as the app enforces it). An operation with no
 * requirement, or with the empty one (`{}`), is public; every scheme carries the same bearer
 * token, so a requirement's scopes are those of all its schemes.
 */
export function accessRules(definition: Document): Readonly<Record<GuardedRpc, AccessRule>> {
  const rules = {} as Record<GuardedRpc, AccessRule>;
  for (const [rpc, operationId] of Object.entries(RPC_OPERATIONS) as [GuardedRpc, string][]) {
    const security = securityOf(definition, operationId);
    const anonymous = security.length === 0 || security.some((r) => Object.keys(r).length === 0);
    const alternatives = security.filter((r) => Object.keys(r).length > 0).map((r) => Object.values(r).flat());
    rules[rpc] = Object.freeze({ anonymous, alternatives });
  }
  return Object.freeze(rules);
}

/** Who called: a verified token's subject, or nobody (a public call, or auth disabled). */
export interface Caller {
  readonly subject: string | undefined;
}

/**
 * Authorises a call by its metadata. With `verifier` undefined (`AUTH_DISABLED=true`) every call
 * passes; a public call passes without looking at the token.
 *
 * @throws TokenMissing / InvalidToken (UNAUTHENTICATED), InsufficientScope (PERMISSION_DENIED), AuthUnavailable.
 */
export async function authorize(metadata: Metadata, rule: AccessRule, verifier: AccessTokenVerifier | undefined): Promise<Caller> {
  if (verifier === undefined || rule.anonymous) return { subject: undefined };
  const values = metadata.get('authorization').map((v) => (typeof v === 'string' ? v : v.toString('latin1')));
  if (values.length > 1) throw new InvalidToken(defaultRealm, 'More than one authorization metadata entry');
  const token = extractBearerToken({ headers: { authorization: values[0] } }, defaultRealm);
  const verified = await verifier.verify(token);
  if (!satisfiesAny(verified.scopes, rule.alternatives)) throw new InsufficientScope(defaultRealm, rule.alternatives[0] ?? []);
  return { subject: verified.subject };
}
