/**
 * `make dev`: a local OAuth 2.0 authorization server (oidc-provider, the one the tests use) and
 * the API configured against it, both on loopback, with the web page at `/` signing in through
 * the provider (client `ui-client`). Ctrl-C stops both.
 *
 * Environment: `PORT` (API, default 8080), `IDP_PORT` (identity provider, default 9400), and any
 * setting of the service (`MODEL_CONTROL`, which the Makefile sets to `poll`, `MODEL_MANIFEST`,
 * `LOG_LEVEL`…), passed through. Get a token with
 * `make token` in another terminal.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultAudience, manageScope, metricsScope, predictionScope, startIdentityProvider, uiClientId } from '../test/fixtures/identity-provider.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const apiPort = Number(process.env.PORT ?? 8080);
const idpPort = Number(process.env.IDP_PORT ?? 9400);

const idp = await startIdentityProvider({
  port: idpPort,
  alg: 'RS256',
  accessTokenTtlSeconds: 3600,
  corsOrigins: [`http://127.0.0.1:${apiPort}`, `http://localhost:${apiPort}`],
  webOrigins: [`http://127.0.0.1:${apiPort}`, `http://localhost:${apiPort}`],
});

process.stderr.write(
  [
    '',
    `identity provider  ${idp.issuer}  (discovery: ${idp.discoveryUri})`,
    `  token endpoint   ${idp.tokenEndpoint}`,
    `  client           prediction-client / prediction-client-secret  (scopes ${predictionScope} ${metricsScope})`,
    `  metrics client   metrics-client / metrics-client-secret  (scope ${metricsScope} only, as for Prometheus)`,
    `  operator client  operator-client / operator-client-secret  (scopes ${predictionScope} ${metricsScope} ${manageScope}: the model repository)`,
    `  labeller client  labeller-client / labeller-client-secret  (scopes ${predictionScope} read::captures post::feedback: the captures)`,
    `  audience         ${defaultAudience}`,
    `  web page client  ${uiClientId}  (Authorization Code + PKCE; any user name signs in, no password; Review for all but guest* names)`,
    `API                http://127.0.0.1:${apiPort}  (Swagger UI: /docs, Authorize with the client above)`,
    '',
    `Open the page:     http://127.0.0.1:${apiPort}/   (sign in, then drop a photo)`,
    '',
    'In another terminal:',
    `  TOKEN=$(make -s token)`,
    `  curl -s -H "Authorization: Bearer $TOKEN" -F file=@resources/samples/cat.png http://127.0.0.1:${apiPort}/upload`,
    `  curl -s -H "Authorization: Bearer $TOKEN" http://127.0.0.1:${apiPort}/metrics`,
    `  # answers are kept in ${process.env.CAPTURE_DIR ?? 'var/captures'} (CAPTURE_SAMPLE_RATE=${process.env.CAPTURE_SAMPLE_RATE ?? '0'}; docs/capture.md); to label them:`,
    `  LABELLER=$(make -s token SCOPE='read::captures post::feedback')`,
    `  curl -s -H "Authorization: Bearer $LABELLER" 'http://127.0.0.1:${apiPort}/captures?labelled=false&limit=5'`,
    `  make train          # publishes the next version of catdog; served within MODEL_POLL_INTERVAL_MS (MODEL_CONTROL=${process.env.MODEL_CONTROL ?? 'explicit'})`,
    '',
  ].join('\n') + '\n',
);

// Its own process group, so that Ctrl-C reaches the API once, forwarded below, and it drains
// gracefully instead of seeing a second signal.
const api = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'src/main.ts')], {
  cwd: root,
  stdio: 'inherit',
  detached: true,
  env: {
    ...process.env,
    PORT: String(apiPort),
    HOST: process.env.HOST ?? '127.0.0.1',
    OAUTH2_ISSUER: idp.issuer,
    OAUTH2_AUDIENCE: idp.audience,
    OAUTH2_UI_CLIENT_ID: uiClientId,
    AUTH_DISABLED: 'false',
  },
});

api.on('exit', (code) => {
  void idp.close().finally(() => process.exit(code ?? 1));
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (api.exitCode === null) api.kill(signal);
  });
}
process.on('exit', () => {
  if (api.exitCode === null) api.kill('SIGKILL');
});
