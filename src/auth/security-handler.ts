/**
 * openapi-backend security handlers for the spec's security schemes: the spec alone decides
 * which operations need a token and which scopes.
 *
 * openapi-backend runs the handler of every scheme named in the matched operation's `security`
 * (global requirements included) before validation and before the body is read; a handler that
 * throws marks its scheme failed, and when no requirement is satisfied the app's
 * `unauthorizedHandler` rethrows the typed error ({@link unauthorizedError}) to the problem renderer.
 *
 * ```ts
 * const securityHandlers = createSecurityHandlers(spec, { verifier });
 * ```
 */
import type { Context, Document } from 'openapi-backend';
import { AuthUnavailable, InsufficientScope, InvalidCredentials, InvalidToken, ProblemError, TokenMissing } from '../errors.js';
import { basicCredentialsMatch, type BasicCredentials } from './basic.js';
import { defaultRealm, extractBearerToken } from './bearer.js';
import { createWarningLimiter, errorSummary, type Logger } from '../log.js';
import { satisfiesAny } from './scopes.js';
import type { AccessTokenVerifier, VerifiedAccessToken } from './verifier.js';

/** What a security handler resolves to; openapi-backend keeps it in `context.security[scheme]`. */
export type Principal =
  | (VerifiedAccessToken & { readonly anonymous: false })
  | { readonly anonymous: false; readonly basicUser: string }
  | { readonly anonymous: true };

/** What the app passes after the Context: the Koa context, whose `state.log` is the request logger. */
interface RequestScope {
  readonly state?: { readonly log?: Pick<Logger, 'warn'> };
}

/** An openapi-backend security handler. */
export type SecurityHandler = (context: Context, koa?: RequestScope) => Promise<Principal>;

export interface SecurityHandlerOptions {
  /** Verifies bearer tokens; `undefined` only when `AUTH_DISABLED=true`, and then every request passes. */
  readonly verifier: AccessTokenVerifier | undefined;
  /** `realm` of the challenges; default {@link defaultRealm}. */
  readonly realm?: string;
  /** Least time between two warnings about an issuer outage, in milliseconds; default 10 s. */
  readonly outageWarningIntervalMs?: number;
  /** Clock of those warnings, for tests; default `Date.now`. */
  readonly now?: () => number;
  /**
   * The user and password an `http` `basic` scheme accepts (Label Studio's backend settings);
   * `undefined`: Basic is refused (the operations that offer it still take a token).
   */
  readonly basic?: BasicCredentials | undefined;
}

/** The operation's required scopes for `scheme`: one list per security requirement naming it. */
export function requiredScopes(context: Pick<Context, 'operation'>, scheme: string): string[][] {
  const requirements = context.operation.security ?? [];
  return requirements.filter((r) => Object.hasOwn(r, scheme)).map((r) => [...(r[scheme] ?? [])]);
}

/**
 * One handler per security scheme of `document` (`components.securitySchemes`), by scheme name.
 * Schemes that carry a bearer access token are supported: `oauth2`, `openIdConnect`, and `http`
 * with scheme `bearer`; and `http` `basic`, checked against `options.basic`.
 *
 * @throws Error at start-up when the spec declares a scheme of another kind (`apiKey`,
 *   `mutualTLS`): nothing would enforce it.
 */
export function createSecurityHandlers(
  document: Document,
  options: SecurityHandlerOptions & { readonly warnOutage?: OutageWarning },
): Record<string, SecurityHandler> {
  const schemes = document.components?.securitySchemes ?? {};
  const handlers: Record<string, SecurityHandler> = {};
  // One limiter for every scheme: an outage is one event however many schemes see it.
  const shared = { ...options, warnOutage: options.warnOutage ?? outageWarning(options) };
  for (const [name, scheme] of Object.entries(schemes)) {
    const carriesBearer = 'type' in scheme && (
      scheme.type === 'oauth2'
      || scheme.type === 'openIdConnect'
      || (scheme.type === 'http' && scheme.scheme.toLowerCase() === 'bearer')
    );
    if ('type' in scheme && scheme.type === 'http' && scheme.scheme.toLowerCase() === 'basic') {
      handlers[name] = createBasicHandler(options.basic, options.realm ?? defaultRealm, options.verifier === undefined);
      continue;
    }
    if (!carriesBearer) {
      throw new Error(`security scheme "${name}" is not supported: only oauth2, openIdConnect, http bearer and http basic are enforced`);
    }
    handlers[name] = createSecurityHandler(name, shared);
  }
  return handlers;
}

/**
 * The failures of Basic schemes to a request that sent no Basic credentials: they say nothing the
 * bearer schemes' failures do not (a token's missing scope must not read as "no credentials").
 */
const withoutBasic = new WeakSet<Error>();

/**
 * The handler of an `http` `basic` scheme: the request's Basic credentials are `basic`'s. A
 * request without Basic fails as one without a token (another scheme may take it); wrong Basic
 * credentials, or Basic while none is configured, fail with {@link InvalidCredentials}. With auth
 * off (`AUTH_DISABLED=true`) and no credentials configured, every request passes, as with tokens.
 */
function createBasicHandler(basic: BasicCredentials | undefined, realm: string, authDisabled: boolean): SecurityHandler {
  return async (context) => {
    if (authDisabled && basic === undefined) return { anonymous: true };
    const header = (context.request.headers as Readonly<Record<string, string | string[] | undefined>>).authorization;
    if (typeof header !== 'string' || !/^Basic(?: |$)/i.test(header.trimStart())) {
      const missing = new TokenMissing(realm);
      withoutBasic.add(missing);
      throw missing;
    }
    if (basic === undefined || !basicCredentialsMatch(header, basic)) throw new InvalidCredentials();
    return { anonymous: false, basicUser: basic.user };
  };
}

/** Verified tokens by request: the handlers of several schemes verify the same token once. */
const verifications = new WeakMap<Context, Promise<VerifiedAccessToken>>();

/** Logs an issuer outage through the request's logger; see {@link outageWarning}. */
type OutageWarning = (log: Pick<Logger, 'warn'> | undefined, error: AuthUnavailable) => void;

/**
 * While the issuer is down every request that needs a key fails alike: one warning per interval,
 * with the reason on one line and how many were held back, never a stack per request.
 */
function outageWarning(options: SecurityHandlerOptions): OutageWarning {
  const limit = createWarningLimiter(options.outageWarningIntervalMs ?? 10_000, options.now);
  return (log, error) =>
    limit((held) => log?.warn({ reason: errorSummary(error.cause), held }, 'token issuer unavailable: answering 503'));
}

/** The handler of one scheme: bearer token → verified token → the operation's scopes for `scheme`. */
function createSecurityHandler(
  scheme: string,
  options: SecurityHandlerOptions & { readonly warnOutage?: OutageWarning },
): SecurityHandler {
  const realm = options.realm ?? defaultRealm;
  const { verifier } = options;
  const warnOutage = options.warnOutage ?? outageWarning(options);
  return async (context, koa) => {
    if (verifier === undefined) return { anonymous: true };
    let verification = verifications.get(context);
    if (verification === undefined) {
      verification = Promise.resolve().then(() => verifier.verify(extractBearerToken(context.request, realm)));
      // An issuer outage is the operator's problem, not the client's: say it, without flooding.
      verification.catch((error: unknown) => {
        if (error instanceof AuthUnavailable) warnOutage(koa?.state?.log, error);
      });
      verifications.set(context, verification);
    }
    const token = await verification;
    const alternatives = requiredScopes(context, scheme);
    if (alternatives.length === 0 || satisfiesAny(token.scopes, alternatives)) return { ...token, anonymous: false };
    throw new InsufficientScope(realm, alternatives[0]!);
  };
}

/**
 * Whether the caller of an operation holds `scope`, for a handler that shows more to some callers
 * than to others (an operation open to anyone still runs the security handlers of the schemes its
 * `security` names, so a token sent with it has been verified):
 *
 * - auth is off (`AUTH_DISABLED=true`): everyone holds every scope, as every operation is open;
 * - the request's token was verified and grants `scope`, whatever the operation required;
 * - otherwise (no token, an invalid one, an issuer that cannot be reached, an operation that named
 *   no scheme), no: what is withheld stays withheld.
 */
export async function callerHasScope(context: Context, scope: string): Promise<boolean> {
  const results = Object.values(context.security ?? {}) as unknown[];
  if (results.some((r) => typeof r === 'object' && r !== null && (r as Partial<Principal>).anonymous === true)) return true;
  const verification = verifications.get(context);
  if (verification === undefined) return false;
  try {
    return (await verification).scopes.has(scope);
  } catch {
    return false;
  }
}

/**
 * The `sub` of the access token a request's security handlers verified, for what records who
 * asked (the captures); `undefined` without a verified token (auth off, no token, an invalid one).
 */
export async function callerSubject(context: Context): Promise<string | undefined> {
  const verification = verifications.get(context);
  if (verification === undefined) return undefined;
  try {
    return (await verification).subject;
  } catch {
    return undefined;
  }
}

/**
 * The error to throw when openapi-backend found no satisfied security requirement: for the
 * app's `unauthorizedHandler`. Every scheme saw the same token, so their errors differ only when
 * their scopes do; the most fundamental one wins (issuer down, token missing, token invalid, then
 * scope). An error that is not a {@link ProblemError} is a bug and is returned as is (a logged 500).
 */
export function unauthorizedError(context: Pick<Context, 'security'>, realm: string = defaultRealm): unknown {
  const errors = Object.values(context.security ?? {})
    .map((result: unknown) => (result && typeof result === 'object' && 'error' in result ? result.error : undefined))
    .filter((e) => e !== undefined && !(e instanceof Error && withoutBasic.has(e)));
  const unexpected = errors.find((e) => !(e instanceof ProblemError));
  if (unexpected !== undefined) return unexpected;
  // Basic credentials sent and wrong say more than the bearer schemes' "no token".
  for (const kind of [AuthUnavailable, InvalidCredentials, TokenMissing, InvalidToken, InsufficientScope]) {
    const found = errors.find((e) => e instanceof kind);
    if (found) return found;
  }
  return new TokenMissing(realm);
}
