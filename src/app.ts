/**
 * The composition: wires the inference core, the protocol front-ends and the HTTP application.
 * Everything else imports downwards; only this module (and `main.ts` above it) sees every part.
 *
 * ```
 * main.ts ─ app.ts ─┬─ frontends/{course,v2,grpc,operations,captures,label-studio} ─┬─ inference ─┬─ repository ─ model
 *                   │                                         └─ oip       └─ model
 *                   └─ http (server, middleware, docs, page, openapi-backend)
 * ```
 *
 * `createApp(deps)` builds the application: the HTTP app and the gRPC front-end (`app.grpc`,
 * which `src/frontends/grpc/server.ts` serves); it never listens (only `src/main.ts` does). Tests
 * drive `app.koa.callback()` or listen on port 0.
 */
import type { AuthSettings } from './auth/settings.js';
import type { AccessTokenVerifier } from './auth/verifier.js';
import type { CaptureService } from './capture/service.js';
import type { CaptureStore } from './capture/types.js';
import { configDefaults, type AccessSettings, type LabelStudioSettings, type RequestLimits } from './config/config.js';
import { capturesHandlers } from './frontends/captures/index.js';
import { courseAdmissions, courseHandlers } from './frontends/course/index.js';
import { uiConfigFor, type UiConfig } from './frontends/course/ui-config.js';
import { grpcFrontend, type GrpcFrontend } from './frontends/grpc/index.js';
import { labelStudioHandlers } from './frontends/label-studio/index.js';
import { operationsHandlers } from './frontends/operations/index.js';
import { v2Frontend } from './frontends/v2/index.js';
import type { SecuritySchemeHandler } from './http/api.js';
import { createHttpApp, type HttpApp } from './http/app.js';
import type { DocsOptions } from './http/docs.js';
import type { OperationHandlers } from './http/operation.js';
import type { PageOptions } from './http/page.js';
import type { AdmissionOptions } from './inference/admission.js';
import { createInferenceCore, type ExplainSettings, type InferenceCore } from './inference/core.js';
import { createEvidence, type Evidence, type EvidenceOptions } from './inference/evidence.js';
import type { RateLimitOptions } from './inference/rate-limit.js';
import type { ShadowSettings } from './inference/traffic.js';
import { createReadiness, type Readiness } from './lifecycle/readiness.js';
import type { Logger } from './log.js';
import { createBodyMemory } from './oip/body-memory.js';
import { createMetrics } from './metrics.js';
import type { PayloadLogger } from './payload/logger.js';
import type { ModelRepository, RepositoryManagement } from './repository/types.js';
import { readSpec, withAnonymousAccess, withoutAnonymousAccess } from './spec.js';

/** Everything the app depends on, created by `main.ts` (or by a test); sections default to the configuration's defaults. */
export interface AppDeps {
  /** The models served; `main.ts` (or a test) loads them, the app only leases them. */
  readonly repository: ModelRepository;
  /**
   * What the management API (`POST /v2/repository/...`) drives; default none: loads and unloads
   * answer 409 `model-control-disabled` (a fixed model, as tests build).
   */
  readonly management?: RepositoryManagement;
  readonly log: Logger;
  /** Handlers for the spec's security schemes, by scheme name. */
  readonly securityHandlers?: Readonly<Record<string, SecuritySchemeHandler>>;
  /**
   * The verifier of the gRPC calls' bearer tokens (the one behind `securityHandlers`), stated
   * explicitly: `undefined` serves gRPC without tokens (`AUTH_DISABLED=true`).
   */
  readonly verifier: AccessTokenVerifier | undefined;
  /** Moved forward by `main.ts` (warm-up, draining); default: ready at once. */
  readonly readiness?: Readiness;
  /** The issuer the service trusts and its token endpoint once known, for the served spec's OAuth2 flow; by default none. */
  readonly docs?: DocsOptions;
  /** The built web page served at `GET /`; default none (`GET /` is then a 404). */
  readonly page?: PageOptions;
  /** What `GET /ui/config` tells the page; default that of `AUTH_DISABLED=true` (no sign-in). */
  readonly uiConfig?: UiConfig;
  /** Bounds of request bodies (the configuration's `requests`). */
  readonly requests?: RequestLimits;
  /** The classifications' admission gate (the configuration's `admission`). */
  readonly admission?: AdmissionOptions;
  /** Explanations (the configuration's `explain`). */
  readonly explain?: ExplainSettings;
  /** Each client's rate limit (the configuration's `rateLimit`). */
  readonly rateLimit?: RateLimitOptions;
  /** Shadow traffic between versions (the configuration's `shadow`). */
  readonly shadow?: ShadowSettings;
  /** Operations made public by setting (the configuration's `access`). */
  readonly access?: Partial<AccessSettings>;
  /**
   * The capture store (`createCaptureService`): the core offers it a sample of its answers, the
   * captures front-end reads and labels them, the metrics count them; default none (nothing is
   * captured and the captures' operations answer 503).
   */
  readonly captures?: Pick<CaptureService, 'store' | 'baseUrl'> & Partial<Pick<CaptureService, 'sink' | 'stats'>>;
  /** The Label Studio ML backend (the configuration's `labelStudio`; its Basic credentials go to `securityHandlers`). */
  readonly labelStudio?: Pick<LabelStudioSettings, 'url' | 'apiKey' | 'fetchTimeoutMs'>;
  /**
   * The payload logger (`payloadLoggerFromConfig`, `PAYLOAD_LOGGER_URL`): every inference's request
   * and answer over `/upload`, REST V2 and gRPC; the metrics count its events. Default none.
   */
  readonly payloads?: Pick<PayloadLogger, 'sink' | 'stats'>;
  /** The evidence per model version (the configuration's `evidence`): its window and low-confidence threshold. */
  readonly evidence?: EvidenceOptions;
}

/** The app, its core and the initialised openapi-backend (tests use it to validate responses). */
export interface App extends HttpApp {
  readonly core: InferenceCore;
  /** The gRPC front-end, for the gRPC server (`src/frontends/grpc/server.ts`). */
  readonly grpc: GrpcFrontend;
}

/** The operations that `MODEL_METADATA_PUBLIC=false` puts behind a token. */
const METADATA_OPERATIONS = ['getServerMetadata', 'getModelMetadata', 'getModelVersionMetadata'];

/** The page's settings when it signs no one in. */
const noSignIn = (): UiConfig => uiConfigFor({ enabled: false } satisfies AuthSettings, readSpec());

/** Builds the application. */
export async function createApp(deps: AppDeps): Promise<App> {
  const defaults = configDefaults();
  const requests = deps.requests ?? defaults.requests;
  const admission = deps.admission ?? defaults.admission;
  const access = { ...defaults.access, ...deps.access };
  const labelStudio = deps.labelStudio ?? defaults.labelStudio;
  const { repository } = deps;
  const readiness = deps.readiness ?? createReadiness('ready', () => repository.health());

  // What each version answers, and the feedback on it: read by the metrics and the evidence API.
  const evidence = createEvidence(deps.evidence ?? defaults.evidence, () => repository.loaded());
  const store = deps.captures?.store ? withFeedbackEvidence(deps.captures.store, evidence) : undefined;

  // The core reports to the metrics, and the metrics read the core's gate when scraped.
  const core = createInferenceCore({
    repository,
    admission,
    explain: deps.explain ?? defaults.explain,
    rateLimit: deps.rateLimit ?? defaults.rateLimit,
    shadow: deps.shadow ?? defaults.shadow,
    ...(deps.captures?.sink ? { capture: deps.captures.sink } : {}),
    observer: {
      observeClassification: (timings, model) => metrics.observeClassification(timings, model),
      observeInferenceBatch: (images) => metrics.observeInferenceBatch(images),
      observeAnswer: (model, result) => evidence.observe(model, result),
      observeShadow: (c) => {
        metrics.observeShadow(c);
        evidence.observeShadow(c);
      },
      observeShadowSkipped: (c) => metrics.observeShadowSkipped(c),
    },
  });
  const gate = core.admission;
  const metrics = createMetrics({
    models: () => repository.loaded(),
    versions: () => repository.index(),
    ...(deps.management ? { activity: deps.management.activity.bind(deps.management) } : {}),
    inflight: () => gate.inflight,
    queued: () => gate.queued,
    large: () => ({ inflight: gate.largeInflight, queued: gate.largeQueued }),
    decodeMemoryBytes: () => gate.memoryBytes,
    ready: () => readiness.state === 'ready',
    ...(deps.captures?.stats ? { capture: deps.captures.stats } : {}),
    ...(deps.payloads ? { payloadEvents: deps.payloads.stats } : {}),
    evidence: () => evidence.versions(),
  });
  const payloads = deps.payloads?.sink;

  // One budget for the inference requests of both protocols: REST bodies and gRPC messages.
  const inferMemory = createBodyMemory(requests.inferBodyMemoryBytes, admission.retryAfterSeconds);
  const v2 = v2Frontend({
    core,
    readiness,
    limits: requests,
    memory: inferMemory,
    index: () => repository.index(),
    management: deps.management,
    payloads,
    evidence: () => evidence.versions(),
  });
  const handlers: OperationHandlers = {
    ...courseHandlers({ core, uiConfig: deps.uiConfig ?? noSignIn(), payloads }),
    ...operationsHandlers({ core, readiness, metrics }),
    ...v2.handlers,
    ...capturesHandlers({ store, baseUrl: deps.captures?.baseUrl }),
    ...labelStudioHandlers({
      core,
      store,
      sink: deps.captures?.sink,
      url: labelStudio.url,
      apiKey: labelStudio.apiKey,
      maxImageBytes: requests.maxUploadBytes,
      fetchTimeoutMs: labelStudio.fetchTimeoutMs,
    }),
  };

  // The spec as this app enforces it: what openapi-backend routes by and what the docs show.
  const definition = access.metricsPublic ? withAnonymousAccess(readSpec(), 'getMetrics') : readSpec();
  if (!access.modelMetadataPublic) for (const op of METADATA_OPERATIONS) withoutAnonymousAccess(definition, op);

  const grpc = grpcFrontend({
    core,
    readiness,
    limits: requests,
    memory: inferMemory,
    index: () => repository.index(),
    management: deps.management,
    definition,
    verifier: deps.verifier,
    log: deps.log,
    metrics,
    payloads,
  });

  const http = await createHttpApp({
    definition,
    handlers,
    bodyReaders: [v2.bodyReader],
    admissions: { ...courseAdmissions(core), ...v2.admissions },
    dialects: [v2.dialect],
    ...(deps.securityHandlers ? { securityHandlers: deps.securityHandlers } : {}),
    limits: { maxUploadBytes: requests.maxUploadBytes },
    log: deps.log,
    metrics,
    readiness,
    ...(deps.docs ? { docs: deps.docs } : {}),
    ...(deps.page ? { page: deps.page } : {}),
  });
  return { ...http, core, grpc };
}

/** `store`, whose recorded feedback the evidence also counts, right or wrong, for the version that answered. */
function withFeedbackEvidence(store: CaptureStore, evidence: Evidence): CaptureStore {
  return {
    availability: () => store.availability(),
    get: (id) => store.get(id),
    list: (query) => store.list(query),
    image: (id) => store.image(id),
    async feedback(id, label, subject) {
      const outcome = await store.feedback(id, label, subject);
      if (outcome.kind === 'recorded' && outcome.model !== undefined && outcome.version !== undefined && outcome.prediction !== undefined) {
        evidence.observeFeedback({ model: outcome.model, version: outcome.version, prediction: outcome.prediction }, outcome.label, outcome.previous);
      }
      return outcome;
    },
  };
}
