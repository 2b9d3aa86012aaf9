/**
 * The protocol's health and metadata RPCs, answered as their REST twins are (`src/frontends/v2/`):
 *
 * - `ServerLive`: `{live: true}` while the process answers.
 * - `ServerReady`: `{ready}`, true exactly when `GET /health/ready` answers 200 (a bool, as the
 *   proto has it: not ready is an answer, not an error).
 * - `ModelReady`: `{ready}` for the version a request naming it would run on: false while it is
 *   not READY; NOT_FOUND for a model or version the repository does not have (as REST's 404).
 * - `ServerMetadata`: the name, version and extensions of `GET /v2`.
 * - `ModelMetadata`: the inputs, outputs and READY versions of `GET /v2/models/{name}`.
 */
import type { ModelMetadataRequest__Output } from '../../../generated/grpc/inference/ModelMetadataRequest.js';
import type { ModelMetadataResponse } from '../../../generated/grpc/inference/ModelMetadataResponse.js';
import type { ModelReadyRequest__Output } from '../../../generated/grpc/inference/ModelReadyRequest.js';
import type { ModelReadyResponse } from '../../../generated/grpc/inference/ModelReadyResponse.js';
import type { ServerLiveResponse } from '../../../generated/grpc/inference/ServerLiveResponse.js';
import type { ServerMetadataResponse } from '../../../generated/grpc/inference/ServerMetadataResponse.js';
import type { ServerReadyResponse } from '../../../generated/grpc/inference/ServerReadyResponse.js';
import { ProblemError } from '../../errors.js';
import type { InferenceCore, ModelRef } from '../../inference/core.js';
import type { Readiness } from '../../lifecycle/readiness.js';
import { SERVER_EXTENSIONS, SERVER_NAME, serverVersion } from '../../oip/server.js';
import { tensorSignatureOf } from '../../oip/tensors.js';

/** A request's model and version; empty strings are absent (proto3's defaults). */
function modelRef(request: { readonly name: string; readonly version: string }): ModelRef {
  return { name: request.name || undefined, version: request.version || undefined };
}

/** The handlers, by RPC. */
export function metadataHandlers(core: InferenceCore, readiness: Readiness) {
  const server: ServerMetadataResponse = { name: SERVER_NAME, version: serverVersion(), extensions: [...SERVER_EXTENSIONS] };
  return {
    ServerLive: async (): Promise<ServerLiveResponse> => ({ live: true }),
    ServerReady: async (): Promise<ServerReadyResponse> => ({ ready: readiness.state === 'ready' }),
    ServerMetadata: async (): Promise<ServerMetadataResponse> => server,
    ModelReady: async (request: ModelReadyRequest__Output): Promise<ModelReadyResponse> => {
      try {
        core.describe(modelRef(request));
        return { ready: true };
      } catch (err) {
        if (err instanceof ProblemError && (err.code === 'model-unavailable' || err.code === 'model-version-not-loaded')) return { ready: false };
        throw err;
      }
    },
    ModelMetadata: async (request: ModelMetadataRequest__Output): Promise<ModelMetadataResponse> => {
      const { name, manifest, readyVersions } = core.describe(modelRef(request));
      const signature = tensorSignatureOf(manifest);
      return {
        name,
        versions: [...readyVersions],
        platform: 'onnx_onnxv1',
        inputs: signature.inputs.map((t) => ({ ...t, shape: [...t.shape] })),
        outputs: signature.outputs.map((t) => ({ ...t, shape: [...t.shape] })),
      };
    },
  };
}
