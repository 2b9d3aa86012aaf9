/**
 * The gRPC contract, loaded from the `.proto` files at start-up (@grpc/proto-loader), with the
 * options `generated/grpc/` was generated with (`scripts/generate-grpc.ts`), so that the types
 * describe exactly what the loaded services decode and encode:
 *
 * - `inference.GRPCInferenceService` from Triton's `grpc_service.proto` (`proto/triton/`, the
 *   Open Inference Protocol's gRPC service and Triton's superset of it; see proto/README.md);
 * - `grpc.health.v1.Health` from the grpc-health-check package (its service implementation
 *   loads the same file).
 */
import path from 'node:path';
import { loadSync, type Options } from '@grpc/proto-loader';
import type { ServiceDefinition } from '@grpc/grpc-js';
import type { ProtoGrpcType } from '../../../generated/grpc/grpc_service.js';
import { rootDir } from '../../spec.js';

/** proto-loader's options; the generator's flags say the same (`scripts/generate-grpc.ts`). */
const LOADER_OPTIONS: Options = Object.freeze({
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [path.join(rootDir, 'proto', 'triton')],
});

/** The service definition of `inference.GRPCInferenceService`. */
export type InferenceServiceDefinition = ProtoGrpcType['inference']['GRPCInferenceService']['service'];

/** Loads `inference.GRPCInferenceService` (once per call: at start-up). */
export function loadInferenceService(): InferenceServiceDefinition {
  const definition = loadSync('grpc_service.proto', LOADER_OPTIONS);
  return (definition['inference.GRPCInferenceService'] as unknown) as ServiceDefinition as InferenceServiceDefinition;
}

/** The RPCs of `inference.GRPCInferenceService` the service implements. */
export const INFERENCE_RPCS = [
  'ServerLive',
  'ServerReady',
  'ModelReady',
  'ServerMetadata',
  'ModelMetadata',
  'ModelInfer',
  'ModelStreamInfer',
  'RepositoryIndex',
  'RepositoryModelLoad',
  'RepositoryModelUnload',
] as const;

/** One of {@link INFERENCE_RPCS}. */
export type InferenceRpc = (typeof INFERENCE_RPCS)[number];

/** The full name of the inference service (the `service` a health check names it by). */
export const INFERENCE_SERVICE = 'inference.GRPCInferenceService';