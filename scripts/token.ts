/**
 * `make token`: prints an access token from the `make dev` identity provider (client-credentials
 * grant), for curl, Swagger UI's Authorize dialog (bearerAuth), Postman or Bruno.
 *
 * Environment (defaults target `make dev`): `TOKEN_URL`, `CLIENT_ID`, `CLIENT_SECRET`, `SCOPE`
 * (`get::prediction get::metrics`; `get::metrics` for `CLIENT_ID=metrics-client`), `RESOURCE` (RFC 8707 resource indicator; unset by default: the dev
 * provider defaults to the API's audience).
 */
import { fetchToken, metricsScope, predictionScope } from '../test/fixtures/identity-provider.js';

const tokenUrl = process.env.TOKEN_URL ?? `http://127.0.0.1:${process.env.IDP_PORT ?? 9400}/token`;
const clientId = process.env.CLIENT_ID ?? 'prediction-client';
const clientSecret = process.env.CLIENT_SECRET ?? `${clientId}-secret`;

try {
  const token = await fetchToken(tokenUrl, clientId, clientSecret, {
    // The development client may have both scopes: one token for the upload and the metrics.
    scope: process.env.SCOPE ?? (clientId === 'metrics-client' ? metricsScope : `${predictionScope} ${metricsScope}`),
    resource: process.env.RESOURCE,
  });
  process.stdout.write(`${token}\n`);
} catch (error) {
  const reason = error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error);
  process.stderr.write(`make token: cannot obtain a token from ${tokenUrl}: ${reason} (is \`make dev\` running?)\n`);
  process.exit(1);
}
