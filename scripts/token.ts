/**
 * `make token`: prints an access token from the `make dev` identity provider (client-credentials
 * grant), for curl, Swagger UI's Authorize dialog (bearerAuth), Postman or Bruno.
 *
 * Environment (defaults target `make dev`): `TOKEN_URL`, `CLIENT_ID`, `CLIENT_SECRET`, `SCOPE`
 * (`get::prediction get::metrics`; `get::metrics` for `CLIENT_ID=metrics-client`;
 * `make -s token SCOPE=manage::models` mints one for the model repository's management API,
 * from the client `operator-client` unless `CLIENT_ID` says otherwise; `SCOPE=read::captures` or
 * `post::feedback` from `labeller-client`, which may hold both and `get::prediction`), `RESOURCE` (RFC 8707
 * resource indicator; unset by default: the dev provider defaults to the API's audience).
 */
import { feedbackScope, fetchToken, manageScope, metricsScope, predictionScope, readCapturesScope } from '../test/fixtures/client-credentials.js';

const tokenUrl = process.env.TOKEN_URL ?? `http://127.0.0.1:${process.env.IDP_PORT ?? 9400}/token`;
const scope = process.env.SCOPE;
/** The development client allowed `scope`: the operator's for the management API, the labeller's for the captures. */
function clientFor(scope: string | undefined): string {
  const asked = scope?.split(' ') ?? [];
  if (asked.includes(manageScope)) return 'operator-client';
  if (asked.includes(readCapturesScope) || asked.includes(feedbackScope)) return 'labeller-client';
  return 'prediction-client';
}
const clientId = process.env.CLIENT_ID ?? clientFor(scope);
const clientSecret = process.env.CLIENT_SECRET ?? `${clientId}-secret`;

try {
  const token = await fetchToken(tokenUrl, clientId, clientSecret, {
    // The development client may have both scopes: one token for the upload and the metrics.
    scope: scope ?? {
      'metrics-client': metricsScope,
      'operator-client': `${predictionScope} ${manageScope}`,
      'labeller-client': `${predictionScope} ${readCapturesScope} ${feedbackScope}`,
    }[clientId] ?? `${predictionScope} ${metricsScope}`,
    resource: process.env.RESOURCE,
  });
  process.stdout.write(`${token}\n`);
} catch (error) {
  const reason = error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error);
  process.stderr.write(`make token: cannot obtain a token from ${tokenUrl}: ${reason} (is \`make dev\` running?)\n`);
  process.exit(1);
}
