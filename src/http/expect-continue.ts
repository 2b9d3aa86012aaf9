/**
 * `Expect: 100-continue` (RFC 9110 §10.1.1): the client waits for "100 Continue" before it sends
 * the body. Node sends it at once unless the server listens to `checkContinue`; the server does
 * (`src/http/server.ts`), and the app invites the body only once it wants it: after the token
 * and the declared size were checked (`src/http/multipart.ts`). A refused request is answered
 * without the body ever being sent, and its connection is closed.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Node's own test of the header (`lib/_http_server.js`). */
const continueExpectation = /(?:^|\W)100-continue(?:$|\W)/i;

/** When each invited response sent its "100 Continue" (`performance.now()`). */
const invited = new WeakMap<ServerResponse, number>();

/** Whether `req` expects "100 Continue". */
function expectsContinue(req: IncomingMessage): boolean {
  return continueExpectation.test(req.headers.expect ?? '');
}

/** Whether `req`'s client still waits for "100 Continue" before sending its body. */
export function waitsForContinue(req: IncomingMessage, res: ServerResponse): boolean {
  return expectsContinue(req) && !invited.has(res);
}

/** When the body was invited, for a request that expected "100 Continue" and got it. */
export function bodyInvitedAt(res: ServerResponse): number | undefined {
  return invited.get(res);
}

/** Sends "100 Continue" if `req` waits for it: call it right before reading the body. */
export function inviteBody(req: IncomingMessage, res: ServerResponse): void {
  if (!waitsForContinue(req, res) || res.headersSent) return;
  res.writeContinue();
  invited.set(res, performance.now());
}
