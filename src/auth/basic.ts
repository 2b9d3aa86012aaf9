/**
 * HTTP Basic credentials (RFC 7617), as Label Studio's "Connect model" form sends them to an ML
 * backend: compared in constant time, never logged nor echoed.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

/** The user and password a Basic scheme accepts. */
export interface BasicCredentials {
  readonly user: string;
  readonly password: string;
}

/**
 * RFC 7617 §2: `credentials = "Basic" 1*SP token68`, the token68 the base64 of `user-id ":"
 * password` (UTF-8, §2.1); the scheme is case-insensitive (RFC 7235 §2.1).
 */
const basicCredentials = /^Basic +([A-Za-z0-9+/]+=*) *$/i;

/** Equal strings in a time that does not depend on where they differ (their hashes' length is fixed). */
const sameSecret = (a: string, b: string): boolean =>
  timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());

/** Whether the `Authorization` header `header` holds exactly `expected`'s user and password. */
export function basicCredentialsMatch(header: string, expected: BasicCredentials): boolean {
  const match = basicCredentials.exec(header.trim());
  if (!match) return false;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return false;
  // Both compared whatever the first gives: no early answer on a right user.
  const user = sameSecret(decoded.slice(0, colon), expected.user);
  const password = sameSecret(decoded.slice(colon + 1), expected.password);
  return user && password;
}
