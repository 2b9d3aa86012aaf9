/**
 * The Open Inference Protocol's REST front-end ("V2", KServe's and Triton's): health, server and
 * model metadata, inference with Triton's binary tensor data and classification extensions, and
 * the model repository extension (`/v2/repository/...`). Its bodies are read by its own reader
 * (`body.ts`, within the V2 memory budget) and its errors take the protocol's shape (`errors.ts`).
 */
import type { BodyReader, RequestAdmission } from '../../http/api.js';
import { whileConnected } from '../../http/client-gone.js';
import type { OperationHandlers } from '../../http/operation.js';
import type { ProblemDialect } from '../../http/problem.js';
import type { InferenceCore } from '../../inference/core.js';
import type { PayloadSink } from '../../inference/payload.js';
import type { VersionEvidence } from '../../inference/evidence.js';
import type { Readiness } from '../../lifecycle/readiness.js';
import type { BodyMemory } from '../../oip/body-memory.js';
import type { IndexEntry, RepositoryManagement } from '../../repository/types.js';
import { createInferenceBodyReader, inferenceBodyReader } from './body.js';
import { v2ProblemDialect } from './errors.js';
import { inferModel } from './infer.js';
import { getModelEvidence } from './model-evidence.js';
import { changeModel } from './load-unload.js';
import { getModelMetadata } from './model-metadata.js';
import { getModelReady } from './model-ready.js';
import { repositoryIndex } from './repository-index.js';
import { getServerLive } from './server-live.js';
import { getServerMetadata } from './server-metadata.js';
import { getServerReady } from './server-ready.js';
import { getModelTraffic, setModelTraffic } from './traffic.js';

/** The operations this front-end serves. */
export type V2Operations =
  | 'getServerLive'
  | 'getServerReady'
  | 'getServerMetadata'
  | 'getModelMetadata'
  | 'getModelVersionMetadata'
  | 'getModelReady'
  | 'getModelVersionReady'
  | 'inferModel'
  | 'inferModelVersion'
  | 'repositoryIndex'
  | 'loadModel'
  | 'unloadModel'
  | 'getModelEvidence'
  | 'getModelTraffic'
  | 'setModelTraffic';

/** The bounds of V2 requests, from the configuration's `requests` section. */
export interface V2Limits {
  /** Largest body with a declared length (`MAX_INFER_BODY_BYTES`). */
  readonly maxInferBodyBytes: number;
  /** An upload's limit (`MAX_UPLOAD_BYTES`): with the multipart envelope, the largest body of unknown size. */
  readonly maxUploadBytes: number;
  /** Most images (or rows) per request (`MAX_BATCH_IMAGES`). */
  readonly maxBatchImages: number;
}

/** What the V2 front-end is built from. */
export interface V2Deps {
  readonly core: InferenceCore;
  readonly readiness: Readiness;
  readonly limits: V2Limits;
  /** The memory budget every inference body reserves from (`INFER_BODY_MEMORY_MIB`), shared with the gRPC front-end. */
  readonly memory: BodyMemory;
  /** Every version the repository knows of, with its state (the index without management). */
  readonly index: () => readonly IndexEntry[];
  /** The repository's management side; `undefined`: loads and unloads answer 409 model-control-disabled. */
  readonly management: RepositoryManagement | undefined;
  /** Where every inference's request and answer go (`PAYLOAD_LOGGER_URL`); default nowhere. */
  readonly payloads?: PayloadSink | undefined;
  /** The evidence of every loaded version (`GET /v2/repository/models/{name}/evidence`); default none (empty lists). */
  readonly evidence?: () => readonly VersionEvidence[];
}

/** The V2 front-end: its handlers, its body reader, its early refusals and its error dialect. */
export interface V2Frontend {
  readonly handlers: Pick<OperationHandlers, V2Operations>;
  readonly bodyReader: BodyReader;
  /** Before an inference body is read: a client over its rate limit, a batch the gate would refuse now. */
  readonly admissions: Readonly<Partial<Record<V2Operations, RequestAdmission>>>;
  readonly dialect: ProblemDialect;
}

/** Builds the V2 front-end. */
export function v2Frontend(deps: V2Deps): V2Frontend {
  const { core, limits } = deps;
  const infer = inferModel(core, limits, deps.payloads);
  const metadata = getModelMetadata(core);
  const ready = getModelReady(core);
  const read = createInferenceBodyReader(limits, deps.memory);
  const admitBatch: RequestAdmission = (ctx) =>
    whileConnected(ctx, (signal) => core.admitRequest(ctx.state.client, 'batch', { images: limits.maxBatchImages, signal }));
  return {
    handlers: {
      getServerLive: getServerLive(),
      getServerReady: getServerReady(deps.readiness),
      getServerMetadata: getServerMetadata(),
      getModelMetadata: metadata,
      getModelVersionMetadata: metadata,
      getModelReady: ready,
      getModelVersionReady: ready,
      inferModel: infer,
      inferModelVersion: infer,
      repositoryIndex: repositoryIndex(deps.index, deps.management),
      loadModel: changeModel(deps.management, 'load'),
      unloadModel: changeModel(deps.management, 'unload'),
      getModelEvidence: getModelEvidence(deps.evidence ?? (() => []), deps.index),
      getModelTraffic: getModelTraffic(deps.management),
      setModelTraffic: setModelTraffic(deps.management),
    },
    bodyReader: inferenceBodyReader(read),
    admissions: { inferModel: admitBatch, inferModelVersion: admitBatch },
    dialect: v2ProblemDialect,
  };
}
