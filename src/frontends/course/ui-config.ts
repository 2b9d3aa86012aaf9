import type { Document } from 'openapi-backend';
import type { operations } from '../../../generated/openapi.js';
import type { AuthSettings } from '../../auth/settings.js';
import type { OperationHandler } from '../../http/operation.js';

/** `GET /ui/config`'s answer. */
export type UiConfig = operations['getUiConfig']['responses'][200]['content']['application/json'];

/**
 * The operations the page calls with a token; it asks for the scopes they require. The Monitoring
 * view's (`getModelEvidence`: `manage::models`) is asked for too: an issuer grants it only to whom
 * it may, and the page offers the view only to a token that carries it.
 */
const pageOperations: readonly string[] = ['classifyImage', 'explainImage', 'getModelEvidence'];

/**
 * The scopes of the `oauth2` requirements of `operationIds` in `document`, with `openid` first
 * (the page shows who is signed in): what the page asks the issuer for.
 */
function pageScopes(document: Document, operationIds: readonly string[] = pageOperations): string[] {
  const scopes = new Set(['openid']);
  for (const item of Object.values(document.paths ?? {})) {
    for (const operation of Object.values(item ?? {}) as { operationId?: string; security?: Record<string, string[]>[] }[]) {
      if (typeof operation !== 'object' || !operationIds.includes(operation?.operationId ?? '')) continue;
      for (const requirement of operation.security ?? []) for (const scope of requirement.oauth2 ?? []) scopes.add(scope);
    }
  }
  return [...scopes];
}

/** The page's settings from the auth configuration and the spec. */
export function uiConfigFor(auth: AuthSettings, document: Document): UiConfig {
  if (!auth.enabled) return { auth: { required: false } };
  return {
    auth: {
      required: true,
      issuer: auth.issuer,
      audience: auth.audience,
      ...(auth.uiClientId === undefined ? {} : { client_id: auth.uiClientId, scope: pageScopes(document).join(' ') }),
    },
  };
}

/** `GET /ui/config`: what the web page needs to sign a person in. */
export function getUiConfig(config: UiConfig): OperationHandler {
  return (_c, ctx) => {
    ctx.set('Cache-Control', 'no-cache');
    ctx.body = config;
  };
}
