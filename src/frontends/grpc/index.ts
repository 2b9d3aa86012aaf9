/**
 * The Open Inference Protocol's gRPC front-end: `inference.GRPCInferenceService` (the protocol's
 * six RPCs, Triton's `ModelStreamInfer` and its repository RPCs) and `grpc.health.v1.Health`. Like
 * the REST front-ends it decodes its requests, calls the inference core and encodes the answers;
 * its calls pass the same token verifier and scopes as their REST twins (`access.ts`), and its
 * errors are the catalogue's as gRPC statuses (`status.ts`). The server that carries it is
 * `server.ts`; only `src/main.ts` listens.
 */
import type { Server, UntypedServiceImplementation } from '@grpc/grpc-js';
import type { Document } from 'openapi-backend';
import { service as healthDefinition } from 'grpc-health-check';
import type { AccessTokenVerifier } from '../../auth/verifier.js';
import type { InferenceCore } from '../../inference/core.js';
import type { PayloadSink } from '../../inference/payload.js';
import type { Readiness } from '../../lifecycle/readiness.js';
import type { Logger } from '../../log.js';
import type { Metrics } from '../../metrics.js';
import type { BodyMemory } from '../../oip/body-memory.js';
import type { IndexEntry, RepositoryManagement } from '../../repository/types.js';
import { accessRules } from './access.js';
import { streaming, unary, type CallDeps } from './call.js';
import { healthService, type HealthService } from './health.js';
import { infer, type GrpcInferLimits } from './infer.js';
import { metadataHandlers } from './metadata.js';
import { loadInferenceService } from './proto.js';
import { repositoryHandlers } from './repository.js';
import { streamInfer } from './stream.js';

/** What the gRPC front-end is built from (by `src/app.ts`). */
export interface GrpcDeps {
  readonly core: InferenceCore;
  readonly readiness: Readiness;
  readonly limits: GrpcInferLimits;
  /** The inference memory budget, shared with the REST front-end. */
  readonly memory: BodyMemory;
  /** Every version the repository knows of (the index without management; the health service's models). */
  readonly index: () => readonly IndexEntry[];
  readonly management: RepositoryManagement | undefined;
  /** The spec as the app enforces it: each RPC needs what its REST twin needs. */
  readonly definition: Document;
  /** Verifies bearer tokens; `undefined` only with `AUTH_DISABLED=true`. */
  readonly verifier: AccessTokenVerifier | undefined;
  readonly log: Logger;
  readonly metrics: Pick<Metrics, 'observeRpc' | 'countRejection'>;
  /** Where every inference's request and answer go (`PAYLOAD_LOGGER_URL`); default nowhere. */
  readonly payloads?: PayloadSink | undefined;
}

/** The front-end: its services, ready to be added to a grpc-js server. */
export interface GrpcFrontend {
  /** Adds `inference.GRPCInferenceService` and `grpc.health.v1.Health` to `server`. */
  addTo(server: Server): void;
  /** The health service (draining turns it NOT_SERVING at once). */
  readonly health: HealthService;
}

/** Builds the gRPC front-end. */
export function grpcFrontend(deps: GrpcDeps): GrpcFrontend {
  const calls: CallDeps = { log: deps.log, metrics: deps.metrics, rules: accessRules(deps.definition), verifier: deps.verifier };
  const inferDeps = { core: deps.core, limits: deps.limits, memory: deps.memory, payloads: deps.payloads };
  const metadata = metadataHandlers(deps.core, deps.readiness);
  const repository = repositoryHandlers(deps.index, deps.management);
  const inference: UntypedServiceImplementation = {
    ServerLive: unary(calls, 'ServerLive', metadata.ServerLive),
    ServerReady: unary(calls, 'ServerReady', metadata.ServerReady),
    ModelReady: unary(calls, 'ModelReady', metadata.ModelReady),
    ServerMetadata: unary(calls, 'ServerMetadata', metadata.ServerMetadata),
    ModelMetadata: unary(calls, 'ModelMetadata', metadata.ModelMetadata),
    ModelInfer: unary(calls, 'ModelInfer', (request, context) => infer(inferDeps, request as Parameters<typeof infer>[1], context)),
    ModelStreamInfer: streaming(calls, 'ModelStreamInfer', streamInfer(inferDeps)),
    RepositoryIndex: unary(calls, 'RepositoryIndex', repository.RepositoryIndex),
    RepositoryModelLoad: unary(calls, 'RepositoryModelLoad', repository.RepositoryModelLoad),
    RepositoryModelUnload: unary(calls, 'RepositoryModelUnload', repository.RepositoryModelUnload),
  };
  const definition = loadInferenceService();
  const health = healthService({ core: deps.core, readiness: deps.readiness, index: deps.index }, calls);
  return {
    addTo(server) {
      server.addService(definition, inference);
      server.addService(healthDefinition, health.handlers);
    },
    health,
  };
}
