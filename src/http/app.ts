/**
 * `createApp(deps)` builds the Koa application; it never listens (only `src/main.ts` does).
 * Tests drive `app.callback()` or listen on port 0.
 */
import Koa from 'koa';
import type { OpenAPIBackend } from 'openapi-backend';
import { envSchema } from '../config/config.js';
import type { UiConfig } from '../frontends/course/ui-config.js';
import { createHandlers } from '../compose/handlers.js';
import type { Logger } from '../log.js';
import { createMetrics, type Metrics } from '../metrics.js';
import { createAdmission, defaultAdmissionOptions, type AdmissionOptions } from '../inference/admission.js';
import { createReadiness, type Readiness } from '../lifecycle/readiness.js';
import { closeConnectionsWhenDraining } from '../lifecycle/shutdown.js';
import { gridFor } from '../model/explain/occlusion.js';
import type { ModelRepository, RepositoryManagement } from '../repository/types.js';
import { readSpec, withAnonymousAccess, withoutAnonymousAccess } from '../spec.js';
import { createApi, type SecurityHandler } from './api.js';
import { createBodyMemory } from '../frontends/v2/body-memory.js';
import { docsMiddleware, type DocsOptions } from './docs.js';
import { createInferenceBodyReader } from '../frontends/v2/body.js';
import { createPage, type PageOptions } from './page.js';
import { problemMiddleware } from './problem.js';
import { refuseRepeatedHeaders } from './repeated-headers.js';
import { requestLogger } from './request-log.js';
import { requestMetrics } from './request-metrics.js';
import { securityHeaders } from './security-headers.js';
import type { AppState } from './context.js';

/** Everything the app depends on, created by `main.ts` (or by a test). */
export interface AppDeps {
  /** The models served; `main.ts` (or a test) loads them, the app only leases them. */
  readonly repository: ModelRepository;
  /**
   * What the management API (`POST /v2/repository/...`) drives; default none: loads and unloads
   * answer 409 `model-control-disabled` (a fixed model, as tests build).
   */
  readonly management?: RepositoryManagement;
  readonly log: Logger;
  readonly limits: { readonly maxUploadBytes: number };
  /** Handlers for the spec's security schemes, by scheme name. */
  readonly securityHandlers?: Readonly<Record<string, SecurityHandler>>;
  /** Bounds on classifications in flight and queued; default {@link defaultAdmissionOptions}. */
  readonly admission?: AdmissionOptions;
  /**
   * How `POST /explain` runs: its pass budget (`EXPLAIN_MAX_PASSES`) and its own admission
   * bounds; default {@link defaultExplainOptions}.
   */
  readonly explain?: ExplainOptions;
  /** Moved forward by `main.ts` (warm-up, draining); default: ready at once. */
  readonly readiness?: Readiness;
  /** `true`: `GET /metrics` is served without a token too (METRICS_PUBLIC); default `false`. */
  readonly metricsPublic?: boolean;
  /**
   * The issuer the service trusts and its token endpoint once known, for the served spec's
   * OAuth2 flow (see `src/http/served-spec.ts`); by default none.
   */
  readonly docs?: DocsOptions;
  /** The built web page served at `GET /`; default none (`GET /` is then a 404). */
  readonly page?: PageOptions;
  /** What `GET /ui/config` tells the page; default `{auth: {required: false}}` (no sign-in). */
  readonly uiConfig?: UiConfig;
  /** Bounds of V2 inference requests (`MAX_INFER_BODY_BYTES`…); default {@link defaultInferenceOptions}. */
  readonly inference?: InferenceOptions;
  /** `false`: the V2 server and model metadata require a token (MODEL_METADATA_PUBLIC); default `true`. */
  readonly modelMetadataPublic?: boolean;
}

/** The bounds of Open Inference Protocol inference requests, from the configuration. */
export interface InferenceOptions {
  /** Largest body with a declared length (`MAX_INFER_BODY_BYTES`). */
  readonly maxInferBodyBytes: number;
  /** Most images (or rows) per request (`MAX_BATCH_IMAGES`). */
  readonly maxBatchImages: number;
  /** Estimated memory of the bodies held at once; 0: no budget (`INFER_BODY_MEMORY_MIB`, in bytes). */
  readonly bodyMemoryBytes: number;
}

/** The configuration's defaults for V2 inference requests. */
const defaultInferenceOptions: InferenceOptions = Object.freeze({
  maxInferBodyBytes: envSchema.properties.MAX_INFER_BODY_BYTES.default,
  maxBatchImages: envSchema.properties.MAX_BATCH_IMAGES.default,
  bodyMemoryBytes: envSchema.properties.INFER_BODY_MEMORY_MIB.default * 1024 * 1024,
});

/** The operations that `MODEL_METADATA_PUBLIC=false` puts behind a token. */
const METADATA_OPERATIONS = ['getServerMetadata', 'getModelMetadata', 'getModelVersionMetadata'];

/** The bounds of explanations, from the configuration (`EXPLAIN_*`). */
export interface ExplainOptions {
  /** Forward passes one explanation may take; its grid follows ({@link gridFor}). */
  readonly maxPasses: number;
  /** Explanations running at once, and waiting; the retry delay is the uploads'. */
  readonly admission: AdmissionOptions;
}

/** The configuration's defaults for explanations. */
const defaultExplainOptions: ExplainOptions = Object.freeze({
  maxPasses: envSchema.properties.EXPLAIN_MAX_PASSES.default,
  admission: Object.freeze({
    maxInflight: envSchema.properties.EXPLAIN_MAX_INFLIGHT.default,
    maxQueue: envSchema.properties.EXPLAIN_MAX_QUEUE.default,
    retryAfterSeconds: envSchema.properties.OVERLOAD_RETRY_AFTER_SECONDS.default,
  }),
});

/** The app and the initialised openapi-backend (tests use it to validate responses). */
export interface App {
  readonly koa: Koa<AppState>;
  readonly api: OpenAPIBackend;
  /** The app's own metrics registry (`main.ts` adds connection-level refusals to it). */
  readonly metrics: Metrics;
  readonly readiness: Readiness;
  /** Whether `deps.page` named a built page (`false`: none given, or `make web` not run). */
  readonly pageBuilt: boolean;
}

/** Builds the application. */
export async function createApp(deps: AppDeps): Promise<App> {
  const readiness = deps.readiness ?? createReadiness('ready', () => deps.repository.health());
  const admission = createAdmission(deps.admission ?? defaultAdmissionOptions);
  const metrics = createMetrics({
    models: () => deps.repository.loaded(),
    versions: () => deps.repository.index(),
    ...(deps.management ? { activity: deps.management.activity.bind(deps.management) } : {}),
    inflight: () => admission.inflight,
    queued: () => admission.queued,
    large: () => ({ inflight: admission.largeInflight, queued: admission.largeQueued }),
    decodeMemoryBytes: () => admission.memoryBytes,
    ready: () => readiness.state === 'ready',
  });
  // The spec as this app enforces it: what openapi-backend routes by and what the docs show.
  const definition = deps.metricsPublic === true ? withAnonymousAccess(readSpec(), 'getMetrics') : readSpec();
  if (deps.modelMetadataPublic === false) for (const op of METADATA_OPERATIONS) withoutAnonymousAccess(definition, op);
  const docs = docsMiddleware(definition, deps.docs);
  const page = deps.page ? createPage(deps.page) : undefined;
  const uiConfig = deps.uiConfig ?? { auth: { required: false } };
  const explain = deps.explain ?? defaultExplainOptions;
  const inference = deps.inference ?? defaultInferenceOptions;
  const retryAfterSeconds = deps.admission?.retryAfterSeconds ?? defaultAdmissionOptions.retryAfterSeconds;
  const readInference = createInferenceBodyReader(
    { maxInferBodyBytes: inference.maxInferBodyBytes, maxUploadBytes: deps.limits.maxUploadBytes },
    createBodyMemory(inference.bodyMemoryBytes, retryAfterSeconds),
  );
  const { middleware, api } = await createApi({
    definition,
    handlers: createHandlers({
      repository: deps.repository,
      management: deps.management,
      admission,
      readiness,
      metrics,
      uiConfig,
      // Explanations have a gate of their own: about 50 classifications each, they hold none of
      // the uploads' slots, but for the length of their decodes (the decode memory budget).
      explain: { grid: gridFor(explain.maxPasses), admission: createAdmission(explain.admission), decodes: admission },
      infer: { maxBatchImages: inference.maxBatchImages },
    }),
    limits: deps.limits,
    readInference,
    ...(deps.securityHandlers ? { securityHandlers: deps.securityHandlers } : {}),
  });
  const koa = new Koa<AppState>();
  koa.proxy = false;
  // Errors are rendered by problemMiddleware; Koa's default handler would only log them twice.
  koa.silent = true;
  koa.use(securityHeaders());
  koa.use(requestLogger(deps.log));
  koa.use(requestMetrics(metrics));
  koa.use(closeConnectionsWhenDraining(readiness));
  koa.use(problemMiddleware(deps.log));
  koa.use(refuseRepeatedHeaders());
  koa.use(docs);
  if (page) koa.use(page.middleware);
  koa.use(middleware);
  return { koa, api, metrics, readiness, pageBuilt: page?.built ?? false };
}
