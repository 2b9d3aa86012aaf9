/**
 * Who a request is from, for the fair sharing of the inference core's queues and for the rate
 * limits: the subject of its verified access token when it has one (`token:<sub>`: one client
 * however many addresses it comes from), else its address as the connection budget counts it
 * (`address:<IPv4>` or `address:<IPv6 /64>`, `connection-budget.ts`).
 *
 * Behind a reverse proxy every tokenless client has the proxy's address, and so shares one turn.
 */
import type { Context } from 'openapi-backend';
import { clientKey } from './connection-budget.js';

/** What a security handler may have left for a scheme: a verified token has a `subject`. */
interface MaybePrincipal {
  readonly anonymous?: unknown;
  readonly subject?: unknown;
}

/** The client of a verified token's `subject` when there is one, else of the connection's `remoteAddress` (any protocol). */
export function clientOf(subject: string | undefined, remoteAddress: string | undefined): string {
  return subject !== undefined && subject !== '' ? `token:${subject}` : `address:${clientKey(remoteAddress)}`;
}

/** The client of a request, from openapi-backend's security results and the connection's address. */
export function clientIdentity(security: Context['security'] | undefined, remoteAddress: string | undefined): string {
  for (const result of Object.values(security ?? {})) {
    const principal = result as MaybePrincipal | undefined;
    if (principal && typeof principal === 'object' && principal.anonymous === false && typeof principal.subject === 'string' && principal.subject !== '') {
      return clientOf(principal.subject, remoteAddress);
    }
  }
  return clientOf(undefined, remoteAddress);
}
