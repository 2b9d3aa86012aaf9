/**
 * Which scopes an access token grants, whatever claim its issuer puts them in.
 */
import type { JWTPayload } from 'jose';

/**
 * The scopes granted by a verified token: the union of
 * - `scope`, a space-separated string (RFC 8693 §4.2, RFC 9068 §2.2.3: oidc-provider, Keycloak,
 *   Auth0 for client-credentials grants);
 * - `scp`, an array (Okta) or a space-separated string (Microsoft Entra);
 * - `permissions`, an array (Auth0 with RBAC enabled puts API permissions there).
 *
 * Any other claim is ignored, however scope-like its content: a `roles` array or a namespaced
 * custom claim grants nothing. Values that are not strings are ignored.
 */
export function grantedScopes(claims: JWTPayload): ReadonlySet<string> {
  const scopes = new Set<string>();
  for (const value of [claims.scope, claims.scp, claims.permissions]) {
    for (const scope of scopeList(value)) scopes.add(scope);
  }
  return scopes;
}

/** A scope claim's value as a list: strings are split on spaces, arrays keep their strings. */
function scopeList(value: unknown): string[] {
  if (typeof value === 'string') return value.split(' ').filter((s) => s !== '');
  if (Array.isArray(value)) return value.filter((s): s is string => typeof s === 'string' && s !== '');
  return [];
}

/**
 * Whether `granted` holds every scope of one of the alternatives (OpenAPI: the scopes of one
 * security requirement are all needed; the requirements of an operation are alternatives).
 */
export function satisfiesAny(granted: ReadonlySet<string>, alternatives: readonly (readonly string[])[]): boolean {
  return alternatives.some((required) => required.every((scope) => granted.has(scope)));
}
