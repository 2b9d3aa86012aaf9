/**
 * Checks a request's media type against what the matched operation's `requestBody.content`
 * accepts: the spec, not the handler, says which bodies are acceptable.
 */
import type { Operation } from 'openapi-backend';
import { UnsupportedMediaType } from '../errors.js';

/** The media types an operation accepts, from the spec (`[]` when it takes no body). */
export function acceptedMediaTypes(operation: Operation): string[] {
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
export function assertAcceptedMediaType(operation: Operation, contentType: string | undefined): void {
  const accepted = acceptedMediaTypes(operation);
  if (accepted.length === 0) return;
  const actual = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (!accepted.some((pattern) => matches(pattern, actual))) throw new UnsupportedMediaType(actual, accepted);
}
