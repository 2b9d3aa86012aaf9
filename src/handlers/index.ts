/**
 * The operation handler map, typed from the generated spec types: an operation in the spec
 * without a handler here does not compile.
 */
import type { Admission } from '../lifecycle/admission.js';
import type { Readiness } from '../lifecycle/readiness.js';
import type { Metrics } from '../metrics.js';
import type { ModelRepository, RepositoryManagement } from '../repository/types.js';
import { classifyImage } from './classifyImage.js';
import { explainImage, type ExplainSettings } from './explainImage.js';
import { getHealth } from './getHealth.js';
import { getLiveness } from './getLiveness.js';
import { getMetrics } from './getMetrics.js';
import { getReadiness } from './getReadiness.js';
import { getUiConfig, type UiConfig } from './getUiConfig.js';
import type { OperationHandlers } from './handler.js';
import { getModelMetadata } from './getModelMetadata.js';
import { getModelReady } from './getModelReady.js';
import { getServerLive } from './getServerLive.js';
import { getServerMetadata } from './getServerMetadata.js';
import { getServerReady } from './getServerReady.js';
import { inferModel, type InferLimits } from './inferModel.js';
import { loadModel } from './loadModel.js';
import { repositoryIndex } from './repositoryIndex.js';
import { unloadModel } from './unloadModel.js';

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
