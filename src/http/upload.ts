/**
 * The one place that checks a request body's parts against the spec, before openapi-backend
 * validates the rest: the media type against the operation's `requestBody.content`, then, for a
 * `multipart/form-data` operation, the parts, read by @koa/multer (busboy) into memory under
 * limits, with the file parts and the required ones taken from the operation's schema.
 *
 * openapi-backend cannot validate binary parts (it drops them from `required`, in place, when it
 * initialises), so each file part stands in the validated body as a placeholder string, and the
 * required file parts are checked here, from what {@link createUploadReader} read from the spec
 * before openapi-backend changed it.
 */
import koaMulter from '@koa/multer';
import type { Document, Operation } from 'openapi-backend';
import { BadRequest, PayloadTooLarge, UnsupportedMediaType, ValidationFailed } from '../errors.js';
import { inviteBody } from './expect-continue.js';
import { readJsonBody } from './json-body.js';
import type { AppContext, UploadedFiles } from './context.js';

/** Upload limits, from the configuration. */
export interface UploadLimits {
  /** Largest accepted file part, in bytes. */
  readonly maxUploadBytes: number;
}

/**
 * Reads and checks the body of a request routed to `operation`. Throws UnsupportedMediaType,
 * PayloadTooLarge, BadRequest or ValidationFailed; otherwise stores the file parts in
 * `ctx.state.upload` and resolves with the body as openapi-backend validates it (`undefined` for
 * an operation that takes no multipart body: openapi-backend reads nothing else).
 */
export type UploadReader = (ctx: AppContext, operation: Operation) => Promise<Record<string, unknown> | undefined>;

/** Multipart envelope allowance on top of the file itself: boundaries and part headers. */
export const ENVELOPE_BYTES = 64 * 1024;

/** Placeholder that stands for a file part in the validated body. */
const FILE_PLACEHOLDER = '<binary>';

/** The multipart form of one operation, from the spec. */
interface Form {
  /** Properties of type `string`, format `binary`. */
  readonly fileParts: readonly string[];
  /** The file parts the schema requires. */
  readonly requiredFiles: readonly string[];
}

interface SchemaObject {
  properties?: Record<string, unknown>;
  required?: string[];
}

/** The media types an operation accepts, from the spec (`[]` when it takes no body). */
function acceptedMediaTypes(operation: Operation): string[] {
  const body = operation.requestBody as { content?: Record<string, unknown> } | undefined;
  return Object.keys(body?.content ?? {});
}

function matches(pattern: string, actual: string): boolean {
  if (pattern === actual || pattern === '*/*') return true;
  const [type, subtype] = pattern.split('/');
  return subtype === '*' && actual.startsWith(`${type}/`);
}

/**
 * Throws UnsupportedMediaType unless `contentType` (the raw header) is one the operation accepts.
 * Operations without a request body accept anything (there is nothing to read).
 */
function assertAcceptedMediaType(operation: Operation, contentType: string | undefined): void {
  const accepted = acceptedMediaTypes(operation);
  if (accepted.length === 0) return;
  const actual = (contentType ?? '').split(';', 1)[0]?.trim().toLowerCase() ?? '';
  if (!accepted.some((pattern) => matches(pattern, actual))) throw new UnsupportedMediaType(actual, accepted);
}

/** Follows a local `$ref` (`#/components/...`); other values are returned as they are. */
function resolveLocal(definition: Document, value: unknown): unknown {
  const ref = (value as { $ref?: unknown } | undefined)?.$ref;
  if (typeof ref !== 'string' || !ref.startsWith('#/')) return value;
  let node: unknown = definition;
  for (const key of ref.slice(2).split('/')) node = (node as Record<string, unknown> | undefined)?.[key.replace(/~1/g, '/').replace(/~0/g, '~')];
  return resolveLocal(definition, node);
}

/** The multipart form of each operation that takes one, by operationId. */
function multipartForms(definition: Document): Map<string, Form> {
  const found = new Map<string, Form>();
  for (const item of Object.values(definition.paths ?? {})) {
    for (const op of Object.values(item ?? {}) as unknown[]) {
      if (typeof op !== 'object' || op === null) continue;
      const { operationId, requestBody } = op as { operationId?: string; requestBody?: unknown };
      if (!operationId) continue;
      const body = resolveLocal(definition, requestBody) as { content?: Record<string, { schema?: unknown }> } | undefined;
      const schema = resolveLocal(definition, body?.content?.['multipart/form-data']?.schema) as SchemaObject | undefined;
      if (!schema) continue;
      const fileParts = Object.entries(schema.properties ?? {})
        .filter(([, p]) => {
          const prop = resolveLocal(definition, p) as { type?: string; format?: string };
          return prop.type === 'string' && prop.format === 'binary';
        })
        .map(([name]) => name);
      found.set(operationId, { fileParts, requiredFiles: (schema.required ?? []).filter((name) => fileParts.includes(name)) });
    }
  }
  return found;
}

/** Multer error codes → typed errors. */
function fromMulterError(err: { code?: string; field?: string; message: string }, limits: UploadLimits): Error {
  switch (err.code) {
    case 'LIMIT_FILE_SIZE':
      return new PayloadTooLarge(limits.maxUploadBytes);
    case 'LIMIT_FILE_COUNT':
      return new ValidationFailed('Only one file part is accepted', [
        { pointer: '/requestBody', message: 'has more than one file part' },
      ]);
    case 'LIMIT_UNEXPECTED_FILE':
      return new ValidationFailed(`Unexpected file part "${err.field ?? ''}"`, [
        { pointer: `/requestBody/${err.field ?? ''}`, message: 'is not expected here, or appears more than once' },
      ]);
    case undefined:
      // busboy's own parse errors: "Unexpected end of form", "Malformed part header", "Boundary not found"…
      return new BadRequest(`Malformed multipart body: ${err.message}`);
    default:
      return new BadRequest(`Multipart body refused: ${err.message}`);
  }
}

/** The multer middleware that reads `form`'s file parts within `limits`. */
function multipartParser(form: Form, limits: UploadLimits): ReturnType<ReturnType<typeof koaMulter>['fields']> {
  return koaMulter({
    storage: koaMulter.memoryStorage(),
    limits: {
      fileSize: limits.maxUploadBytes,
      files: form.fileParts.length,
      fields: 16,
      fieldSize: 64 * 1024,
      parts: form.fileParts.length + 16,
      headerPairs: 32,
    },
  }).fields(form.fileParts.map((name) => ({ name, maxCount: 1 })));
}

/** Checks that every file part arrived as a file and every required one arrived at all. */
function checkFileParts(form: Form, fields: Readonly<Record<string, unknown>>, files: UploadedFiles): void {
  // A file field sent as a text part (no filename) is not a file.
  const asText = form.fileParts.filter((name) => name in fields);
  const [firstAsText] = asText;
  if (firstAsText !== undefined) {
    throw new ValidationFailed(
      `The multipart part "${firstAsText}" must be a file (a part with a filename)`,
      asText.map((n) => ({ pointer: `/requestBody/${n}`, message: 'must be a file part with a filename' })),
    );
  }
  const missing = form.requiredFiles.filter((name) => !(name in files));
  if (missing.length > 0) {
    throw new ValidationFailed(
      `The multipart part${missing.length > 1 ? 's' : ''} ${missing.map((n) => `"${n}"`).join(', ')} ${missing.length > 1 ? 'are' : 'is'} required`,
      missing.map((n) => ({ pointer: `/requestBody/${n}`, message: 'is required' })),
    );
  }
}

/**
 * Creates the reader of `definition`'s request bodies within `limits`. Call it before
 * openapi-backend's `init()`, which removes binary properties from `required`.
 */
export function createUploadReader(definition: Document, limits: UploadLimits): UploadReader {
  const forms = multipartForms(definition);
  // One parser per operation: the spec does not change after start-up.
  const parsers = new Map([...forms].map(([operationId, form]) => [operationId, multipartParser(form, limits)]));

  return async function readUpload(ctx, operation) {
    // An optional body may be left out (`curl -X POST` sends none): there is nothing to check.
    const sent = Number(ctx.get('content-length') || 0) > 0 || ctx.get('transfer-encoding') !== '';
    if (!sent && (operation.requestBody as { required?: boolean } | undefined)?.required !== true) return undefined;
    assertAcceptedMediaType(operation, ctx.get('content-type') || undefined);
    if (acceptedMediaTypes(operation).includes('application/json')) {
      const declaredLimit = (operation.requestBody as { 'x-max-bytes'?: unknown } | undefined)?.['x-max-bytes'];
      const body = await readJsonBody(ctx, typeof declaredLimit === 'number' ? declaredLimit : undefined);
      return body === undefined ? undefined : (body as Record<string, unknown>);
    }
    const form = forms.get(operation.operationId ?? '');
    const parse = parsers.get(operation.operationId ?? '');
    if (!form || !parse) return undefined;

    // Refuses a declared Content-Length that cannot fit before reading anything; the parser
    // stops reading at the first limit exceeded.
    const declared = Number(ctx.get('content-length') || 0);
    if (declared > limits.maxUploadBytes + ENVELOPE_BYTES) throw new PayloadTooLarge(limits.maxUploadBytes);
    // A client that sent `Expect: 100-continue` sends the body only now that it is wanted.
    inviteBody(ctx.req, ctx.res);
    try {
      await parse(ctx, async () => {});
    } catch (err) {
      throw fromMulterError(err as { code?: string; field?: string; message: string }, limits);
    }

    const uploaded = ((ctx as unknown as { files?: unknown }).files ?? {}) as Record<string, Express.Multer.File[]>;
    const fields = ((ctx.request as unknown as { body?: unknown }).body ?? {}) as Record<string, unknown>;
    const files: Record<string, Buffer> = {};
    const validatable: Record<string, unknown> = { ...fields };
    for (const [name, [first]] of Object.entries(uploaded)) {
      // multer lists a field only once a file arrived for it.
      if (!first) continue;
      files[name] = first.buffer;
      validatable[name] = FILE_PLACEHOLDER;
    }
    checkFileParts(form, fields, files);
    ctx.state.upload = files;
    return validatable;
  };
}
