/**
 * Where the access token comes from: the `Authorization` header, and nowhere else.
 */
import { InvalidToken, TokenMissing } from '../errors.js';

/** `realm` of the `WWW-Authenticate` challenges (RFC 7235 §2.2). */
export const defaultRealm = 'cat-dog-other';

/**
 * RFC 6750 §2.1: `credentials = "Bearer" 1*SP b64token`, with
 * `b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
 * RFC 7235 §2.1: the scheme is case-insensitive.
 */
const bearerCredentials = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;
const bearerScheme = /^Bearer(?: |$)/i;

/** The parts of a request that may carry a token, as openapi-backend parses them. */
export interface TokenCarrier {
  /** Request headers, names in lower case (Node's `IncomingMessage.headers`). */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** Parsed query string. */
  readonly query?: Readonly<Record<string, unknown>> | undefined;
}

/**
 * Returns the bearer token of a request.
 *
 * @param realm - the `realm` of the `WWW-Authenticate` challenge.
 * @throws {@link TokenMissing} when there is no `Authorization: Bearer` header (another scheme,
 *   such as Basic, counts as none), or when a token is sent as the `access_token` query parameter
 *   (refused even alongside a header: RFC 6750 §2 "Clients MUST NOT use more than one method").
 * @throws {@link InvalidToken} when the header says Bearer but its value is not a b64token.
 */
export function extractBearerToken(request: TokenCarrier, realm: string): string {
  if (request.query && Object.hasOwn(request.query, 'access_token')) {
    throw new TokenMissing(realm, { tokenInQuery: true });
  }
  const header = request.headers.authorization;
  // Node keeps only the first of duplicated Authorization headers; an array means a caller
  // assembled headers by hand, and it is ambiguous which one was meant.
  if (typeof header !== 'string' || !bearerScheme.test(header.trimStart())) {
    if (Array.isArray(header)) throw new InvalidToken(realm, 'More than one Authorization header');
    throw new TokenMissing(realm);
  }
  const match = bearerCredentials.exec(header.trim());
  if (!match) throw new InvalidToken(realm, 'The Authorization header does not hold a bearer token');
  return match[1]!;
}
