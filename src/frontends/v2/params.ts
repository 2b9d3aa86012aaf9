/**
 * The path parameters of the protocol's model routes, as openapi-backend parsed them (the spec
 * declares them strings: validation has passed before a handler runs).
 */
import type { Context } from 'openapi-backend';

/** The model name and, when the path has one, the version. */
export function modelParams(c: Context): { readonly name: string; readonly version: string | undefined } {
  const { name, version } = c.request.params as { name?: unknown; version?: unknown };
  return { name: String(name), version: typeof version === 'string' ? version : undefined };
}
