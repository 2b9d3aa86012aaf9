/**
 * `createApp(deps)` builds the Koa application; it never listens (only `src/main.ts` does).
 * Tests drive `app.callback()` or listen on port 0.
 */
import Koa from 'koa';
import type { OpenAPIBackend } from 'openapi-backend';
import { createHandlers } from '../handlers/index.js';
import type { Logger } from '../log.js';
import { createMetrics, type Metrics } from '../metrics.js';
import { createAdmission, defaultAdmissionOptions, type AdmissionOptions } from '../lifecycle/admission.js';
import { createReadiness, type Readiness } from '../lifecycle/readiness.js';
import { closeConnectionsWhenDraining } from '../lifecycle/shutdown.js';
import type { Classifier } from '../model/classifier.js';
import { readSpec, withoutAnonymousAccess } from '../spec.js';
import { createApi, type SecurityHandler } from './api.js';
import { docsMiddleware } from './docs.js';
import { problemMiddleware } from './problem.js';
import { requestLogger } from './request-log.js';
import { requestMetrics } from './request-metrics.js';
import type { AppState } from './state.js';
import { ENVELOPE_BYTES } from './upload.js';

/** Everything the app depends on, created by `main.ts` (or by a test). */
export interface AppDeps {
  readonly classifier: Classifier;
  readonly log: Logger;
  readonly limits: { readonly maxUploadBytes: number };
  /** Handlers for the spec's security schemes, by scheme name. */
  readonly securityHandlers?: Readonly<Record<string, SecurityHandler>>;
  /** Bounds on classifications in flight and queued; default {@link defaultAdmissionOptions}. */
  readonly admission?: AdmissionOptions;
  /** Moved forward by `main.ts` (warm-up, draining); default: ready at once. */
  readonly readiness?: Readiness;
  /** `false`: `GET /metrics` requires a token (METRICS_PUBLIC); default `true`. */
  readonly metricsPublic?: boolean;
  /**
   * The issuer's token endpoint once known, for the served spec's OAuth2 flow; while it answers
   * `undefined` (and by default) the spec's own token URL is served.
   */
  readonly tokenUrl?: () => string | undefined;
}

/** The app and the initialised openapi-backend (tests use it to validate responses). */
export interface App {
  readonly koa: Koa<AppState>;
  readonly api: OpenAPIBackend;
  /** The app's own metrics registry (`main.ts` adds connection-level refusals to it). */
  readonly metrics: Metrics;
  readonly readiness: Readiness;
}

/** Builds the application. */
export async function createApp(deps: AppDeps): Promise<App> {
  const readiness = deps.readiness ?? createReadiness('ready', deps.classifier.health);
  const admission = createAdmission(deps.admission ?? defaultAdmissionOptions);
  const metrics = createMetrics({
    model: deps.classifier,
    inflight: () => admission.inflight,
    queued: () => admission.queued,
    large: () => ({ inflight: admission.largeInflight, queued: admission.largeQueued }),
    decodeMemoryBytes: () => admission.memoryBytes,
    ready: () => readiness.state === 'ready',
  });
  // The spec as this app enforces it: what openapi-backend routes by and what the docs show.
  const definition = deps.metricsPublic === false ? withoutAnonymousAccess(readSpec(), 'getMetrics') : readSpec();
  const docs = docsMiddleware(definition, deps.tokenUrl);
  const { middleware, api } = await createApi({
    definition,
    handlers: createHandlers({ classifier: deps.classifier, admission, readiness, metrics }),
    limits: deps.limits,
    ...(deps.securityHandlers ? { securityHandlers: deps.securityHandlers } : {}),
  });
  const koa = new Koa<AppState>();
  koa.proxy = false;
  // Errors are rendered by problemMiddleware; Koa's default handler would only log them twice.
  koa.silent = true;
  koa.use(requestLogger(deps.log));
  koa.use(requestMetrics(metrics));
  koa.use(closeConnectionsWhenDraining(readiness));
  koa.use(problemMiddleware(deps.log, deps.limits.maxUploadBytes + ENVELOPE_BYTES));
  koa.use(docs);
  koa.use(middleware);
  return { koa, api, metrics, readiness };
}
