/**
 * The spec as a running service serves it (`/openapi.json`, `/openapi.yaml`, the docs): the
 * committed spec with its OAuth2 client-credentials flow pointed at the issuer the service
 * trusts, and without what belongs to the local development issuer of `make dev` unless that is
 * the issuer.
 *
 * The committed spec marks the development parts of an `oauth2` scheme with the extension
 * `x-development: { issuer, description }`: its `tokenUrl` is that issuer's, and the description
 * (the development client and its secret) is appended only when `OAUTH2_ISSUER` is that issuer.
 *
 * ```ts
 * const served = servedSpec(definition, { issuer: 'https://tenant.auth0.com/', tokenUrl: undefined });
 * ```
 */
import type { Document } from 'openapi-backend';

/** What the served spec depends on. */
export interface ServedSpecOptions {
  /** The issuer the service trusts (`OAUTH2_ISSUER`); `undefined` when auth is disabled. */
  readonly issuer: string | undefined;
  /** The issuer's token endpoint once discovered; `undefined` while unknown. */
  readonly tokenUrl: string | undefined;
}

interface OAuth2Scheme {
  type: 'oauth2';
  description?: string;
  flows: Record<string, { tokenUrl?: string } | undefined>;
  'x-development'?: { issuer?: string; description?: string };
}

type Requirement = Record<string, string[]>;

/** Issuer identifiers compared as `make dev` and Auth0 write them: with or without the final slash. */
function sameIssuer(a: string, b: string): boolean {
  return a.replace(/\/+$/, '') === b.replace(/\/+$/, '');
}

/**
 * A copy of `definition` as served. An `oauth2` scheme's client-credentials flow gets
 * `options.tokenUrl`; while that is unknown, it keeps the committed token URL only for the
 * development issuer and is otherwise removed (a scheme left without flows goes, and with it the
 * security alternatives that named only it: the others, such as `bearerAuth`, still describe
 * what the service enforces, since every scheme carries the same bearer token).
 */
export function servedSpec(definition: Document, options: ServedSpecOptions): Document {
  const copy = structuredClone(definition);
  const schemes = (copy.components?.securitySchemes ?? {}) as Record<string, unknown>;
  const removed = new Set<string>();
  for (const [name, value] of Object.entries(schemes)) {
    const scheme = value as OAuth2Scheme;
    if (scheme.type !== 'oauth2') continue;
    const development = scheme['x-development'];
    delete scheme['x-development'];
    const isDevelopment = development?.issuer !== undefined && options.issuer !== undefined
      && sameIssuer(development.issuer, options.issuer);
    if (isDevelopment && development?.description) {
      scheme.description = `${scheme.description ?? ''}\n\n${development.description}`.trim();
    }
    const flow = scheme.flows.clientCredentials;
    if (!flow) continue;
    if (options.tokenUrl !== undefined) flow.tokenUrl = options.tokenUrl;
    else if (development !== undefined && !isDevelopment) delete scheme.flows.clientCredentials;
    if (Object.keys(scheme.flows).length === 0) {
      delete schemes[name];
      removed.add(name);
    }
  }
  if (removed.size > 0) withoutSchemes(copy, removed);
  return copy;
}

/**
 * Removes `names` from every security requirement; a requirement that named only them goes.
 *
 * @throws Error when a list of requirements would be left empty: that would document the
 *   operation as public.
 */
function withoutSchemes(document: Document, names: ReadonlySet<string>): void {
  const prune = (requirements: Requirement[] | undefined): Requirement[] | undefined => {
    const pruned = requirements?.flatMap((requirement) => {
      const keys = Object.keys(requirement);
      // `{}` (anonymous access) stays as it is; one that only named removed schemes goes.
      if (keys.length === 0) return [requirement];
      const kept = keys.filter((key) => !names.has(key));
      return kept.length === 0 ? [] : [Object.fromEntries(kept.map((key) => [key, requirement[key]!]))];
    });
    if (requirements && requirements.length > 0 && pruned?.length === 0) {
      throw new Error(`a security requirement names only ${[...names].join(', ')}: give it a bearer alternative in the spec`);
    }
    return pruned;
  };
  if (document.security) document.security = prune(document.security)!;
  for (const item of Object.values(document.paths ?? {})) {
    for (const operation of Object.values(item ?? {}) as { security?: Requirement[] }[]) {
      if (typeof operation === 'object' && operation?.security) operation.security = prune(operation.security)!;
    }
  }
}
