/**
 * The operation handler map, typed from the generated spec types: an operation in the spec
 * without a handler here does not compile.
 */
import type { Admission } from '../inference/admission.js';
import type { Readiness } from '../lifecycle/readiness.js';
import type { Metrics } from '../metrics.js';
import type { ModelRepository, RepositoryManagement } from '../repository/types.js';
import { classifyImage } from '../frontends/course/classify-image.js';
import { explainImage, type ExplainSettings } from '../frontends/course/explain-image.js';
import { getHealth } from '../frontends/course/health.js';
import { getLiveness } from '../frontends/operations/liveness.js';
import { getMetrics } from '../frontends/operations/metrics.js';
import { getReadiness } from '../frontends/operations/readiness.js';
import { getUiConfig, type UiConfig } from '../frontends/course/ui-config.js';
import type { OperationHandlers } from '../http/operation.js';
import { getModelMetadata } from '../frontends/v2/model-metadata.js';
import { getModelReady } from '../frontends/v2/model-ready.js';
import { getServerLive } from '../frontends/v2/server-live.js';
import { getServerMetadata } from '../frontends/v2/server-metadata.js';
import { getServerReady } from '../frontends/v2/server-ready.js';
import { inferModel, type InferLimits } from '../frontends/v2/infer.js';
import { loadModel } from '../frontends/v2/load-model.js';
import { repositoryIndex } from '../frontends/v2/repository-index.js';
import { unloadModel } from '../frontends/v2/unload-model.js';

/** Dependencies of the handlers. */
export interface HandlerDeps {
  readonly repository: ModelRepository;
  /** The management API's side of the repository; `undefined`: loads and unloads are refused. */
  readonly management: RepositoryManagement | undefined;
  readonly admission: Admission;
  readonly readiness: Readiness;
  readonly metrics: Metrics;
  /** How `POST /explain` runs. */
  readonly explain: ExplainSettings;
  /** What `GET /ui/config` answers. */
  readonly uiConfig: UiConfig;
  /** Bounds of V2 inference requests. */
  readonly infer: InferLimits;
}

/** Builds the handler map. */
export function createHandlers(deps: HandlerDeps): OperationHandlers {
  return {
    getHealth: getHealth(),
    getLiveness: getLiveness(),
    getReadiness: getReadiness(deps.readiness, deps.repository),
    getMetrics: getMetrics(deps.metrics),
    classifyImage: classifyImage(deps.repository, deps.admission, deps.metrics),
    explainImage: explainImage(deps.repository, deps.explain),
    getUiConfig: getUiConfig(deps.uiConfig),
    getServerLive: getServerLive(),
    getServerReady: getServerReady(deps.readiness),
    getServerMetadata: getServerMetadata(),
    getModelMetadata: getModelMetadata(deps.repository),
    getModelVersionMetadata: getModelMetadata(deps.repository),
    getModelReady: getModelReady(deps.repository),
    getModelVersionReady: getModelReady(deps.repository),
    inferModel: inferModel(deps.repository, deps.admission, deps.metrics, deps.infer),
    inferModelVersion: inferModel(deps.repository, deps.admission, deps.metrics, deps.infer),
    repositoryIndex: repositoryIndex(deps.repository, deps.management),
    loadModel: loadModel(deps.management),
    unloadModel: unloadModel(deps.management),
  };
}
