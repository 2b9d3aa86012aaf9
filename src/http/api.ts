/**
 * openapi-backend wiring: routes Koa requests to operation handlers and validates them
 * against the spec, in strict mode. Every failure becomes a typed error thrown to the one
 * problem renderer (`problem.ts`).
 */
import { OpenAPIBackend, type Context, type Document, type Operation, type Request } from 'openapi-backend';
import type { ErrorObject } from 'ajv';
import { unauthorizedError } from '../auth/security-handler.js';
import { MethodNotAllowed, NotFound, ValidationFailed, type ValidationIssue } from '../errors.js';
import { inSpan, tracingOn } from '../tracing/tracer.js';
import { clientIdentity } from './client-identity.js';
import type { OperationHandlers } from './operation.js';
import type { AppContext, AppMiddleware, ReadBody } from './context.js';
import { memoiseRouting } from './routing-memo.js';
import { createUploadReader, type UploadLimits } from './upload.js';

/** An absolute URI (RFC 3986 §4.3): a scheme, a colon, no whitespace. */
const ABSOLUTE_URI = /^[A-Za-z][A-Za-z0-9+.-]*:\S*$/;
/** An RFC 3339 date-time (`2026-12-06T10:15:02.114Z`). */
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i;

/** A security handler as openapi-backend calls it; it throws a ProblemError to refuse. */
export type SecuritySchemeHandler = (context: Context, ctx: AppContext) => unknown;

/**
 * A front-end's own reader for the bodies of some operations (the Open Inference Protocol's
 * binary bodies, say); every other body is read by `upload.ts` from what the spec declares.
 */
export interface BodyReader {
  /** Whether this reader reads the bodies of `operation`. */
  readonly reads: (operation: Operation) => boolean;
  /** Reads the body of an authorised request, within the reader's limits. */
  readonly read: (ctx: AppContext) => Promise<ReadBody>;
}

/**
 * A front-end's early refusal for an operation: runs once the request is authorised, before its
 * body is read, with `ctx.state.client` set; throws (or rejects with) a ProblemError to refuse (a
 * client over its rate limit, work the service would refuse anyway), so that a refusal never
 * reads the body.
 */
export type RequestAdmission = (ctx: AppContext) => void | Promise<void>;

/** What the API middleware needs. */
export interface ApiOptions {
  readonly definition: Document;
  readonly handlers: OperationHandlers;
  readonly limits: UploadLimits;
  /** One handler per `components.securitySchemes` entry the spec uses. */
  readonly securityHandlers?: Readonly<Record<string, SecuritySchemeHandler>>;
  /** The front-ends' own body readers; the first that reads an operation's bodies reads them. */
  readonly bodyReaders?: readonly BodyReader[];
  /** The front-ends' early refusals, by operationId. */
  readonly admissions?: Readonly<Partial<Record<string, RequestAdmission>>>;
}

function issues(errors: readonly ErrorObject[] | null | undefined): ValidationIssue[] {
  return (errors ?? []).map((e) => ({
    pointer: e.instancePath || '/',
    message: e.keyword === 'additionalProperties'
      ? `has an unexpected property "${String(e.params.additionalProperty)}"`
      : e.message ?? 'is invalid',
  }));
}

/** The methods the spec defines on `path`, for the `Allow` header. */
function allowedMethods(api: OpenAPIBackend, path: string): string[] {
  const methods = api.router
    .getOperations()
    .filter((op) => api.router.matchOperation({ method: op.method, path, headers: {} }) !== undefined)
    .map((op) => op.method.toUpperCase());
  return [...new Set(methods)];
}

/**
 * openapi-backend checks the document against the OpenAPI 3.0 schema only; ours is 3.1. The
 * document is validated as 3.1 by `redocly lint` (`make lint`, run in CI) instead. Everything
 * else (routing, eager validator compilation, strict mode) is unchanged. Its only option that
 * skips the check, `quick`, also compiles validators lazily and dereferences differently.
 *
 * This and the memoised routing (`routing-memo.ts`) rely on openapi-backend's internals: its
 * version is pinned exactly in package.json, and test/unit/http/api.test.ts fails when what
 * they rely on changes.
 */
class OpenAPI31Backend extends OpenAPIBackend {
  override validateDefinition(): Document {
    return this.document;
  }
}

/** Creates and initialises the backend; returns the Koa middleware and the backend itself. */
export async function createApi(options: ApiOptions): Promise<{ middleware: AppMiddleware; api: OpenAPIBackend }> {
  // Before init: openapi-backend drops binary parts from `required` when it builds its validators.
  const readUpload = createUploadReader(options.definition, options.limits);
  // The request openapi-backend validates, by Koa context: the body is set once it has been read.
  const requests = new WeakMap<AppContext, Request>();
  const api = new OpenAPI31Backend({
    definition: options.definition,
    strict: true,
    quick: false,
    validate: true,
    ajvOpts: { strict: false },
    // openapi-backend defines the OpenAPI formats but not JSON Schema's `uri` (the problems'
    // `type`) nor `date-time` (the captures' times), which Ajv would otherwise ignore with a
    // console warning whenever it compiles one.
    customizeAjv: (ajv) => ajv.addFormat('uri', ABSOLUTE_URI).addFormat('date-time', DATE_TIME),
  });

  api.register({
    ...options.handlers,
    notFound: (_c: Context, ctx: AppContext) => {
      throw new NotFound(ctx.path);
    },
    // For the request log and the metrics, whatever the outcome (401, 400...) turns out to be.
    postRoutingHandler: (c: Context, ctx: AppContext) => {
      ctx.state.operationId = c.operation?.operationId;
      ctx.state.route = c.operation?.path;
    },
    methodNotAllowed: (_c: Context, ctx: AppContext) => {
      throw new MethodNotAllowed(ctx.method, ctx.path, allowedMethods(api, ctx.path));
    },
    // Runs after authentication and before validation: the body is read only for authorised
    // requests that no early refusal turned away, and what is read is what gets validated.
    postSecurityHandler: async (c: Context, ctx: AppContext) => {
      const operation = c.operation;
      // openapi-backend reports `authorized: false` also when nothing is required.
      const required = (operation.security ?? []).length > 0;
      if (required && !c.security?.authorized) return;
      ctx.state.client = clientIdentity(c.security, ctx.req.socket.remoteAddress);
      await options.admissions?.[operation.operationId ?? '']?.(ctx);
      let body: unknown;
      const reader = options.bodyReaders?.find((r) => r.reads(operation));
      if (reader) {
        const read = await inSpan('body read', () => reader.read(ctx));
        ctx.state.body = read;
        body = read.validated;
      } else {
        body = await inSpan('body read', () => readUpload(ctx, operation));
      }
      const req = requests.get(ctx);
      if (body === undefined || !req) return;
      // Validation parses `req` again; the handler reads the context, parsed before the body was read.
      req.body = body;
      c.request.requestBody = body;
    },
    validationFail: (c: Context) => {
      const found = issues(c.validation.errors);
      const first = found[0];
      throw new ValidationFailed(
        first ? `${first.pointer} ${first.message}` : 'The request does not match the API contract',
        found,
      );
    },
    unauthorizedHandler: (c: Context) => {
      // Security handlers throw typed errors; openapi-backend stores them per scheme.
      throw unauthorizedError(c);
    },
  });
  // With tracing on (OTEL_*), each scheme's check is a span of the request's trace.
  const traced = tracingOn();
  for (const [name, handler] of Object.entries(options.securityHandlers ?? {})) {
    api.registerSecurityHandler(name, traced ? (c: Context, ctx: AppContext) => inSpan('token check', () => handler(c, ctx), { 'auth.scheme': name }) : handler);
  }
  await api.init();
  // openapi-backend redoes its routing from the document at each request; it has no option not to.
  memoiseRouting(api.router);

  const middleware: AppMiddleware = async (ctx) => {
    const req: Request = {
      method: ctx.method,
      path: ctx.path,
      query: ctx.querystring,
      headers: ctx.headers as Request['headers'],
      body: undefined,
    };
    requests.set(ctx, req);
    try {
      await api.handleRequest(req, ctx);
    } finally {
      // The body's memory is held until its answer is computed (src/oip/body-memory.ts).
      ctx.state.body?.release();
    }
  };
  return { middleware, api };
}
