/**
 * Where the issuer's key set lives: `OAUTH2_JWKS_URI`, or the `jwks_uri` of the issuer's
 * OpenID Connect discovery document.
 *
 * Discovery is lazy: the service starts even when the issuer is down. Each call of
 * {@link KeySetLocator.locate} before a success asks the issuer (one request at a time); when it
 * may be asked again after a failure is the key set cache's schedule (`key-set-cache.ts`), which
 * calls the locator within its own attempts. Once discovered, the location is kept for the life
 * of the process.
 */
import { allowInsecureRequests, discovery } from 'openid-client';

/** How to find the key set. */
export interface KeySetLocatorOptions {
  /** Issuer identifier; discovery reads `<issuer>/.well-known/openid-configuration`. */
  readonly issuer: string;
  /** Known key set URL: no discovery at all. */
  readonly jwksUri?: string | undefined;
  /** Timeout of the discovery request, in milliseconds. */
  readonly httpTimeoutMs: number;
}

/** Resolves the key set URL; see the module comment. */
export interface KeySetLocator {
  /**
   * The key set URL: discovered now, or by an earlier call that succeeded.
   * @throws {@link KeySetUnreachable} when discovery fails.
   */
  locate(): Promise<URL>;
  /**
   * The issuer's `token_endpoint`, once discovery has found it (never with a known key set URL,
   * which needs no discovery): the served spec's OAuth2 token URL.
   */
  tokenEndpoint(): string | undefined;
}

/**
 * Discovery failed: the token can be neither accepted nor refused.
 * @public thrown by {@link KeySetLocator.locate}
 */
export class KeySetUnreachable extends Error {
  readonly code = 'key-set-unreachable';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'KeySetUnreachable';
  }
}

/** The OAuth client id openid-client requires; a resource server has none and makes no client call. */
const resourceServerClientId = 'cat-dog-other-resource-server';

/** Creates a locator; performs no I/O until {@link KeySetLocator.locate} is called. */
export function createKeySetLocator(options: KeySetLocatorOptions): KeySetLocator {
  if (options.jwksUri !== undefined) {
    const url = new URL(options.jwksUri);
    return { locate: async () => url, tokenEndpoint: () => undefined };
  }
  const issuer = new URL(options.issuer);
  let found: URL | undefined;
  let tokenEndpoint: string | undefined;
  let pending: Promise<URL> | undefined;

  const discover = async (): Promise<URL> => {
    try {
      const configuration = await discovery(issuer, resourceServerClientId, undefined, undefined, {
        timeout: options.httpTimeoutMs / 1000,
        // Config accepts plain http for loopback issuers only (development and tests).
        execute: issuer.protocol === 'http:' ? [allowInsecureRequests] : [],
      });
      const metadata = configuration.serverMetadata();
      const jwksUri = metadata.jwks_uri;
      if (typeof jwksUri !== 'string') throw new Error('the discovery document has no jwks_uri');
      if (typeof metadata.token_endpoint === 'string') tokenEndpoint = metadata.token_endpoint;
      return new URL(jwksUri);
    } catch (cause) {
      throw new KeySetUnreachable(`discovery of ${issuer.href} failed`, { cause });
    }
  };

  return {
    tokenEndpoint: () => tokenEndpoint,
    async locate() {
      if (found) return found;
      pending ??= discover().then((url) => {
        found = url;
        return url;
      }).finally(() => {
        pending = undefined;
      });
      return pending;
    },
  };
}
