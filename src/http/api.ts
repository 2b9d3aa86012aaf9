/**
 * openapi-backend wiring: routes Koa requests to operation handlers and validates them
 * against the spec, in strict mode. Every failure becomes a typed error thrown to the one
 * problem renderer (`problem.ts`).
 */
import type { Context as KoaContext, Middleware } from 'koa';
import { OpenAPIBackend, type Context, type Document, type Request } from 'openapi-backend';
import type { ErrorObject } from 'ajv';
import { unauthorizedError } from '../auth/security-handler.js';
import { MethodNotAllowed, NotFound, ValidationFailed, type ValidationIssue } from '../errors.js';
import type { OperationHandlers } from '../handlers/index.js';
import { assertAcceptedMediaType } from './media-type.js';
import { readMultipart, requiredFileParts, takesMultipart, type MultipartLimits } from './multipart.js';

/** A security handler as openapi-backend calls it; it throws a ProblemError to refuse. */
export type SecurityHandler = (context: Context, ctx: KoaContext) => unknown | Promise<unknown>;

/** What the API middleware needs. */
export interface ApiOptions {
  readonly definition: Document;
  readonly handlers: OperationHandlers;
  readonly limits: MultipartLimits;
  /** One handler per `components.securitySchemes` entry the spec uses. */
  readonly securityHandlers?: Readonly<Record<string, SecurityHandler>>;
}

/** Per-request state shared between the middleware and openapi-backend's hooks. */
interface RequestState {
  readonly req: Request;
  files: Readonly<Record<string, Buffer>>;
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

/** The uploaded file parts of the current request, by field name (for operation handlers). */
export function uploadedFiles(ctx: KoaContext): Readonly<Record<string, Buffer>> {
  return (ctx.state.api as RequestState | undefined)?.files ?? {};
}

/**
 * openapi-backend checks the document against the OpenAPI 3.0 schema only; ours is 3.1. The
 * document is validated as 3.1 by `redocly lint` (`make lint`, run in CI) instead. Everything
 * else (routing, eager validator compilation, strict mode) is unchanged.
 */
class OpenAPI31Backend extends OpenAPIBackend {
  override validateDefinition(): Document {
    return this.document;
  }
}

/** Creates and initialises the backend; returns the Koa middleware and the backend itself. */
export async function createApi(options: ApiOptions): Promise<{ middleware: Middleware; api: OpenAPIBackend }> {
  // Before init: openapi-backend drops binary parts from `required` when it builds its validators.
  const fileParts = requiredFileParts(options.definition);
  const api = new OpenAPI31Backend({
    definition: options.definition,
    strict: true,
    quick: false,
    validate: true,
    ajvOpts: { strict: false },
  });

  api.register({
    ...(options.handlers as unknown as Record<string, (c: Context, ctx: KoaContext) => unknown>),
    notFound: (_c: Context, ctx: KoaContext) => {
      throw new NotFound(ctx.path);
    },
    // For the request log and the metrics, whatever the outcome (401, 400...) turns out to be.
    postRoutingHandler: (c: Context, ctx: KoaContext) => {
      ctx.state.operationId = c.operation?.operationId;
    },
    methodNotAllowed: (_c: Context, ctx: KoaContext) => {
      throw new MethodNotAllowed(ctx.method, ctx.path, allowedMethods(api, ctx.path));
    },
    // Runs after authentication and before validation: the body is read only for authorised
    // requests, and what is read is what gets validated.
    postSecurityHandler: async (c: Context, ctx: KoaContext) => {
      const operation = c.operation;
      // openapi-backend reports `authorized: false` also when nothing is required.
      const required = (operation.security ?? []).length > 0;
      if (required && !c.security?.authorized) return;
      assertAcceptedMediaType(operation, ctx.get('content-type') || undefined);
      if (takesMultipart(operation)) {
        const state = ctx.state.api as RequestState;
        const body = await readMultipart(ctx, operation, options.limits, fileParts.get(operation.operationId ?? '') ?? []);
        state.req.body = body.validatable;
        state.files = body.files;
      }
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
  for (const [name, handler] of Object.entries(options.securityHandlers ?? {})) {
    api.registerSecurityHandler(name, handler);
  }
  await api.init();
  // openapi-backend rebuilds its list of operations from the document (a lodash chain over every
  // path) at each match, several times per request; after init the document no longer changes.
  const operations = api.router.getOperations();
  api.router.getOperations = () => operations;

  const middleware: Middleware = async (ctx) => {
    const req: Request = {
      method: ctx.method,
      path: ctx.path,
      query: ctx.querystring,
      headers: ctx.headers as Request['headers'],
      body: undefined,
    };
    ctx.state.api = { req, files: {} } satisfies RequestState;
    await api.handleRequest(req, ctx);
  };
  return { middleware, api };
}
