/**
 * Signing in through the issuer: OAuth 2.0 Authorization Code with PKCE (RFC 7636) for a
 * public client, with oauth4webapi (the library openid-client is built on).
 *
 * - The issuer is found through its discovery document; the client id, audience and scopes
 *   come from the service (`GET /ui/config`).
 * - The access token lives in memory only: a reload forgets it (the issuer's own session then
 *   makes signing in again a click). Only the PKCE verifier and the `state` wait in
 *   `sessionStorage` while the browser is at the issuer, and are removed on return.
 * - The audience is sent as the RFC 8707 `resource` and as Auth0's `audience`.
 * - Sign-out forgets the token and, when the issuer offers it, ends the issuer's session
 *   (RP-initiated logout) and comes back here.
 */
import * as oauth from 'oauth4webapi';
import type { UiConfig } from './api.js';

/** Who is signed in, and with what. */
export interface SignedIn {
  readonly accessToken: string;
  /** When the access token expires (ms since the epoch), if the issuer said. */
  readonly expiresAt: number | undefined;
  /** A name to show: the ID token's `name`, `preferred_username`, `email` or `sub`. */
  readonly user: string | undefined;
  readonly idToken: string | undefined;
  /** The scopes the access token carries (the token answer's `scope`, else its claims). */
  readonly scopes: readonly string[];
}

/** The page's sign-in state. */
export type Auth =
  /** No token needed (`AUTH_DISABLED=true`). */
  | { readonly kind: 'none' }
  /** Tokens needed, but the service has no client id for the page. */
  | { readonly kind: 'unavailable'; readonly reason: string }
  | { readonly kind: 'oauth'; readonly session: Session };

/** Sign-in through the issuer. */
export interface Session {
  /** The current access token, unless signed out or expired. */
  token(): string | undefined;
  /** Who is signed in, if anyone. */
  readonly current: SignedIn | undefined;
  /** Goes to the issuer to sign in; the page loads again once signed in. */
  signIn(): Promise<void>;
  /** Forgets the token; ends the issuer's session when it can, which reloads the page. */
  signOut(): void;
  /** Forgets an access token the service refused (expired, revoked). */
  forget(): void;
}

const pendingKey = 'cat-dog-other:sign-in';

interface Pending {
  readonly verifier: string;
  readonly state: string;
}

/** Where the issuer sends the browser back: this page. */
const redirectUri = (): string => `${window.location.origin}/`;

/**
 * The sign-in state for `config`; when this load is the issuer's redirect back (`?code=…`),
 * completes the sign-in first and removes the parameters from the address bar.
 *
 * @throws Error when the issuer cannot be discovered or refuses the sign-in.
 */
export async function startAuth(config: UiConfig['auth']): Promise<Auth> {
  if (!config.required) return { kind: 'none' };
  if (config.issuer === undefined || config.client_id === undefined) {
    return { kind: 'unavailable', reason: 'Sign-in is not set up for this page (OAUTH2_UI_CLIENT_ID).' };
  }
  const issuer = new URL(config.issuer);
  // The service accepts plain-http issuers on loopback only (development); so does the page.
  const http = { [oauth.allowInsecureRequests]: issuer.protocol === 'http:' };
  const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, http));
  const client: oauth.Client = { client_id: config.client_id };
  const resource = config.audience;
  let current: SignedIn | undefined;

  const here = new URL(window.location.href);
  const pending = readPending();
  if (pending && (here.searchParams.has('code') || here.searchParams.has('error'))) {
    sessionStorage.removeItem(pendingKey);
    window.history.replaceState(null, '', here.pathname);
    const params = oauth.validateAuthResponse(as, client, here, pending.state);
    const response = await oauth.authorizationCodeGrantRequest(as, client, oauth.None(), params, redirectUri(), pending.verifier, {
      ...http,
      ...(resource ? { additionalParameters: { resource } } : {}),
    });
    const result = await oauth.processAuthorizationCodeResponse(as, client, response);
    const claims = oauth.getValidatedIdTokenClaims(result);
    current = {
      accessToken: result.access_token,
      expiresAt: typeof result.expires_in === 'number' ? Date.now() + result.expires_in * 1000 : undefined,
      user: displayName(claims),
      idToken: result.id_token,
      scopes: grantedScopes(result),
    };
  }

  const session: Session = {
    get current() {
      return current;
    },
    token() {
      // A few seconds early: the token must still be valid when the upload arrives.
      if (current?.expiresAt !== undefined && current.expiresAt - 5_000 < Date.now()) current = undefined;
      return current?.accessToken;
    },
    async signIn() {
      const verifier = oauth.generateRandomCodeVerifier();
      const state = oauth.generateRandomState();
      sessionStorage.setItem(pendingKey, JSON.stringify({ verifier, state } satisfies Pending));
      const url = new URL(as.authorization_endpoint!);
      url.search = new URLSearchParams({
        client_id: client.client_id,
        redirect_uri: redirectUri(),
        response_type: 'code',
        scope: config.scope ?? 'openid',
        code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        state,
        ...(resource ? { resource, audience: resource } : {}),
      }).toString();
      window.location.assign(url.href);
    },
    signOut() {
      const idToken = current?.idToken;
      current = undefined;
      if (as.end_session_endpoint === undefined) return;
      const url = new URL(as.end_session_endpoint);
      url.search = new URLSearchParams({
        client_id: client.client_id,
        post_logout_redirect_uri: redirectUri(),
        ...(idToken ? { id_token_hint: idToken } : {}),
      }).toString();
      window.location.assign(url.href);
    },
    forget() {
      current = undefined;
    },
  };
  return { kind: 'oauth', session };
}

function readPending(): Pending | undefined {
  try {
    const value = JSON.parse(sessionStorage.getItem(pendingKey) ?? 'null') as Partial<Pending> | null;
    return typeof value?.verifier === 'string' && typeof value.state === 'string'
      ? { verifier: value.verifier, state: value.state }
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The scopes granted: the token answer's `scope` (RFC 6749 §5.1), else the access token's own
 * `scope`, `scp` or `permissions` claim (Okta, Entra, Auth0), read only to decide what to offer:
 * the service checks the token itself.
 */
function grantedScopes(result: oauth.TokenEndpointResponse): string[] {
  if (typeof result.scope === 'string') return result.scope.split(' ').filter(Boolean);
  try {
    const payload = JSON.parse(atob(result.access_token.split('.')[1]!.replace(/-/g, '+').replace(/_/g, '/'))) as Record<string, unknown>;
    for (const claim of [payload.scope, payload.scp, payload.permissions]) {
      if (typeof claim === 'string') return claim.split(' ').filter(Boolean);
      if (Array.isArray(claim)) return claim.map(String);
    }
  } catch {
    // An opaque access token: no scopes known.
  }
  return [];
}

function displayName(claims: oauth.IDToken | undefined): string | undefined {
  if (!claims) return undefined;
  for (const key of ['name', 'preferred_username', 'email', 'sub']) {
    const value = claims[key];
    if (typeof value === 'string' && value !== '') return value;
  }
  return undefined;
}
