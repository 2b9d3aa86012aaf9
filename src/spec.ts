/**
 * The OpenAPI document, the source of truth: read once from `openapi/openapi.yaml` at the
 * package root, whether running from `src/` (tsx) or from the built `dist/src/`.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import type { Document } from 'openapi-backend';

function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('package.json not found above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
  return dir;
}

/** Absolute path of the package root (where `package.json`, `openapi/` and `resources/` are). */
export const rootDir = packageRoot();

/** Absolute path of the spec. */
const specPath = path.join(rootDir, 'openapi', 'openapi.yaml');

/** The spec as written (YAML text). */
export function readSpecText(): string {
  return readFileSync(specPath, 'utf8');
}

/** The spec parsed; each call returns a fresh object, safe for a library to mutate. */
export function readSpec(): Document {
  return parse(readSpecText()) as Document;
}

/**
 * Adds the anonymous alternative (an empty requirement, `{}`) to the security of `operationId`,
 * in place, first: the operation is then served without a token too. `GET /metrics` is
 * documented as token-only; `METRICS_PUBLIC=true` makes it public.
 *
 * @throws Error when the operation does not exist.
 */
export function withAnonymousAccess(document: Document, operationId: string): Document {
  for (const item of Object.values(document.paths ?? {})) {
    for (const operation of Object.values(item ?? {}) as { operationId?: string; security?: Record<string, string[]>[] }[]) {
      if (typeof operation !== 'object' || operation?.operationId !== operationId) continue;
      const required = (operation.security ?? []).filter((r) => Object.keys(r).length > 0);
      operation.security = [{}, ...required];
      return document;
    }
  }
  throw new Error(`operation ${operationId} is not in the spec`);
}

/**
 * Removes the anonymous alternative (an empty requirement, `{}`) from the security of
 * `operationId`, in place: the operation then requires what its other alternatives require. The
 * V2 metadata is documented as public-or-token; `MODEL_METADATA_PUBLIC=false` makes it token-only.
 *
 * @throws Error when the operation does not exist or would be left without any requirement.
 */
export function withoutAnonymousAccess(document: Document, operationId: string): Document {
  for (const item of Object.values(document.paths ?? {})) {
    for (const operation of Object.values(item ?? {}) as { operationId?: string; security?: Record<string, string[]>[] }[]) {
      if (typeof operation !== 'object' || operation?.operationId !== operationId) continue;
      const required = (operation.security ?? []).filter((r) => Object.keys(r).length > 0);
      if (required.length === 0) throw new Error(`operation ${operationId} has no security requirement besides anonymous access`);
      operation.security = required;
      return document;
    }
  }
  throw new Error(`operation ${operationId} is not in the spec`);
}
