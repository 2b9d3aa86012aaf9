/**
 * Multipart bodies, parsed with @koa/multer (busboy) into memory under limits, with the
 * allowed file parts taken from the operation's `multipart/form-data` schema in the spec.
 *
 * openapi-backend cannot validate binary parts (it drops them from `required`, in place, when
 * it initialises), so after parsing each file part is represented in the validated body by a
 * placeholder string, and the schema's required binary parts are checked here, from the list
 * {@link requiredFileParts} took from the spec before openapi-backend changed it.
 */
import type { Context } from 'koa';
import koaMulter from '@koa/multer';
import type { Document, Operation } from 'openapi-backend';
import { BadRequest, PayloadTooLarge, ValidationFailed } from '../errors.js';

/** Upload limits, from the configuration. */
export interface MultipartLimits {
  /** Largest accepted file part, in bytes. */
  readonly maxUploadBytes: number;
}

/** A parsed multipart body: text fields plus file parts by field name. */
export interface MultipartBody {
  /** The body as openapi-backend validates it: fields, and a placeholder per file part. */
  readonly validatable: Record<string, unknown>;
  readonly files: Readonly<Record<string, Buffer>>;
}

interface SchemaObject {
  properties?: Record<string, { type?: string; format?: string }>;
  required?: string[];
}

/** Multipart envelope allowance on top of the file itself: boundaries and part headers. */
export const ENVELOPE_BYTES = 64 * 1024;
/** Placeholder that stands for a file part in the validated body. */
export const FILE_PLACEHOLDER = '<binary>';

function multipartSchema(operation: Operation): SchemaObject | undefined {
  const content = (operation.requestBody as { content?: Record<string, { schema?: SchemaObject }> } | undefined)
    ?.content;
  return content?.['multipart/form-data']?.schema;
}

/** Whether the operation takes a multipart body. */
export function takesMultipart(operation: Operation): boolean {
  return multipartSchema(operation) !== undefined;
}

function binaryParts(schema: SchemaObject): string[] {
  return Object.entries(schema.properties ?? {})
    .filter(([, p]) => p.type === 'string' && p.format === 'binary')
    .map(([name]) => name);
}

/** Follows a local `$ref` (`#/components/...`); other values are returned as they are. */
function resolveLocal(definition: Document, value: unknown): unknown {
  const ref = (value as { $ref?: unknown } | undefined)?.$ref;
  if (typeof ref !== 'string' || !ref.startsWith('#/')) return value;
  let node: unknown = definition;
  for (const key of ref.slice(2).split('/')) node = (node as Record<string, unknown> | undefined)?.[key.replace(/~1/g, '/').replace(/~0/g, '~')];
  return resolveLocal(definition, node);
}

/**
 * The required binary parts of each multipart operation, by operationId. Call it on the spec
 * before `api.init()`: openapi-backend then removes binary properties from `required`.
 */
export function requiredFileParts(definition: Document): Map<string, readonly string[]> {
  const found = new Map<string, readonly string[]>();
  for (const item of Object.values(definition.paths ?? {})) {
    for (const op of Object.values(item ?? {}) as { operationId?: string; requestBody?: unknown }[]) {
      if (typeof op !== 'object' || !op?.operationId) continue;
      const body = resolveLocal(definition, op.requestBody) as { content?: Record<string, { schema?: unknown }> } | undefined;
      const schema = resolveLocal(definition, body?.content?.['multipart/form-data']?.schema) as SchemaObject | undefined;
      if (!schema) continue;
      const binary = Object.entries(schema.properties ?? {})
        .filter(([, p]) => {
          const prop = resolveLocal(definition, p) as { type?: string; format?: string };
          return prop.type === 'string' && prop.format === 'binary';
        })
        .map(([name]) => name);
      found.set(op.operationId, (schema.required ?? []).filter((name) => binary.includes(name)));
    }
  }
  return found;
}

/** Multer error codes → typed errors. */
function fromMulterError(err: { code?: string; field?: string; message: string }, limits: MultipartLimits): Error {
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

interface Parser {
  readonly fileParts: readonly string[];
  readonly upload: ReturnType<ReturnType<typeof koaMulter>['fields']>;
}

// One parser per operation (and limits): the spec does not change after start-up.
const parsers = new WeakMap<Operation, WeakMap<MultipartLimits, Parser>>();

/** The multer middleware that reads `operation`'s file parts within `limits`. */
function parserFor(operation: Operation, limits: MultipartLimits): Parser {
  let byLimits = parsers.get(operation);
  if (!byLimits) parsers.set(operation, (byLimits = new WeakMap()));
  let parser = byLimits.get(limits);
  if (!parser) {
    const fileParts = binaryParts(multipartSchema(operation) ?? {});
    const upload = koaMulter({
      storage: koaMulter.memoryStorage(),
      limits: {
        fileSize: limits.maxUploadBytes,
        files: fileParts.length,
        fields: 16,
        fieldSize: 64 * 1024,
        parts: fileParts.length + 16,
        headerPairs: 32,
      },
    }).fields(fileParts.map((name) => ({ name, maxCount: 1 })));
    byLimits.set(limits, (parser = { fileParts, upload }));
  }
  return parser;
}

/**
 * Reads the multipart body of `ctx` for `operation`. Refuses a declared `Content-Length` that
 * cannot fit before reading anything; stops reading at the first limit exceeded.
 */
export async function readMultipart(
  ctx: Context,
  operation: Operation,
  limits: MultipartLimits,
  requiredFiles: readonly string[],
): Promise<MultipartBody> {
  const declared = Number(ctx.get('content-length') || 0);
  if (declared > limits.maxUploadBytes + ENVELOPE_BYTES) throw new PayloadTooLarge(limits.maxUploadBytes);

  const { fileParts, upload } = parserFor(operation, limits);

  try {
    await upload(ctx, async () => {});
  } catch (err) {
    throw fromMulterError(err as { code?: string; field?: string; message: string }, limits);
  }

  const uploaded = ((ctx as unknown as { files?: unknown }).files ?? {}) as Record<string, Express.Multer.File[]>;
  const fields = ((ctx.request as unknown as { body?: unknown }).body ?? {}) as Record<string, unknown>;
  const files: Record<string, Buffer> = {};
  const validatable: Record<string, unknown> = { ...fields };
  for (const [name, list] of Object.entries(uploaded)) {
    files[name] = list[0]!.buffer;
    validatable[name] = FILE_PLACEHOLDER;
  }
  // A file field sent as a text part (no filename) is not a file.
  const asText = fileParts.filter((name) => name in fields);
  if (asText.length > 0) {
    throw new ValidationFailed(
      `The multipart part "${asText[0]}" must be a file (a part with a filename)`,
      asText.map((n) => ({ pointer: `/requestBody/${n}`, message: 'must be a file part with a filename' })),
    );
  }
  const missing = requiredFiles.filter((name) => !(name in files));
  if (missing.length > 0) {
    throw new ValidationFailed(
      `The multipart part${missing.length > 1 ? 's' : ''} ${missing.map((n) => `"${n}"`).join(', ')} ${missing.length > 1 ? 'are' : 'is'} required`,
      missing.map((n) => ({ pointer: `/requestBody/${n}`, message: 'is required' })),
    );
  }
  return { validatable, files };
}
