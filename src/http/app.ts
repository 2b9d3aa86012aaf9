/**
 * The Koa application around the front-ends' operation handlers: the middleware every request
 * passes (security headers, request log and metrics, draining, the problem renderer, repeated
 * headers), the static content (docs, served spec, web page) and openapi-backend's routing and
 * validation against the spec. It knows no protocol: the front-ends bring their handlers, body
 * readers and error dialects, and the composition (`src/app.ts`) hands them in. It never listens
 * (only `src/main.ts` does); tests drive `app.koa.callback()` or listen on port 0.
 */
import Koa from 'koa';
import type { Document, OpenAPIBackend } from 'openapi-backend';
import type { Readiness } from '../lifecycle/readiness.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { createApi, type BodyReader, type RequestAdmission, type SecuritySchemeHandler } from './api.js';
import type { AppState } from './context.js';
import { docsMiddleware, type DocsOptions } from './docs.js';
import { closeConnectionsWhenDraining } from './draining.js';
import type { OperationHandlers } from './operation.js';
import { createPage, type PageOptions } from './page.js';
import { createProblemRenderer, type ProblemDialect, type ProblemRenderer } from './problem.js';
import { refuseRepeatedHeaders } from './repeated-headers.js';
import { requestLogger } from './request-log.js';
import { requestMetrics } from './request-metrics.js';
import { securityHeaders } from './security-headers.js';
import { traceRequests } from './tracing.js';
import { tracingOn } from '../tracing/tracer.js';
import type { UploadLimits } from './upload.js';

/** What the HTTP application is made of. */
export interface HttpAppParts {
  /** The spec as this app enforces it: what openapi-backend routes by and what the docs show. */
  readonly definition: Document;
  /** One handler per operation of the spec, from the front-ends. */
  readonly handlers: OperationHandlers;
  /** The front-ends' own body readers (others are read from the spec by `upload.ts`). */
  readonly bodyReaders?: readonly BodyReader[];
  /** The front-ends' early refusals, before the body is read, by operationId. */
  readonly admissions?: Readonly<Partial<Record<string, RequestAdmission>>>;
  /** The front-ends' error dialects, by path. */
  readonly dialects?: readonly ProblemDialect[];
  /** Handlers for the spec's security schemes, by scheme name. */
  readonly securityHandlers?: Readonly<Record<string, SecuritySchemeHandler>>;
  /** The limits of the bodies `upload.ts` reads. */
  readonly limits: UploadLimits;
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly readiness: Readiness;
  /** The issuer and token endpoint the served spec's OAuth2 flow points at; default none. */
  readonly docs?: DocsOptions;
  /** The built web page served at `GET /`; default none (`GET /` is then a 404). */
  readonly page?: PageOptions;
}

/** The app and the initialised openapi-backend (tests use it to validate responses). */
export interface HttpApp {
  readonly koa: Koa<AppState>;
  readonly api: OpenAPIBackend;
  /** The app's own metrics registry (the server adds connection-level refusals to it). */
  readonly metrics: Metrics;
  readonly readiness: Readiness;
  /** Renders problems, in the front-ends' dialects (the server uses it for connection-level failures). */
  readonly problems: ProblemRenderer;
  /** Whether `parts.page` named a built page (`false`: none given, or `make web` not run). */
  readonly pageBuilt: boolean;
}

/** Builds the application. */
export async function createHttpApp(parts: HttpAppParts): Promise<HttpApp> {
  const problems = createProblemRenderer(parts.dialects);
  const docs = docsMiddleware(parts.definition, parts.docs);
  const page = parts.page ? createPage(parts.page) : undefined;
  const { middleware, api } = await createApi({
    definition: parts.definition,
    handlers: parts.handlers,
    limits: parts.limits,
    ...(parts.bodyReaders ? { bodyReaders: parts.bodyReaders } : {}),
    ...(parts.admissions ? { admissions: parts.admissions } : {}),
    ...(parts.securityHandlers ? { securityHandlers: parts.securityHandlers } : {}),
  });
  const koa = new Koa<AppState>();
  koa.proxy = false;
  // Errors are rendered by the problem middleware; Koa's default handler would only log them twice.
  koa.silent = true;
  // Only when tracing is on (OTEL_*): off, requests pass no tracing code at all.
  if (tracingOn()) koa.use(traceRequests());
  koa.use(securityHeaders());
  koa.use(requestLogger(parts.log));
  koa.use(requestMetrics(parts.metrics));
  koa.use(closeConnectionsWhenDraining(parts.readiness));
  koa.use(problems.middleware(parts.log));
  koa.use(refuseRepeatedHeaders());
  koa.use(docs);
  if (page) koa.use(page.middleware);
  koa.use(middleware);
  return { koa, api, metrics: parts.metrics, readiness: parts.readiness, problems, pageBuilt: page?.built ?? false };
}
