/**
 * The process entry point: reads the configuration, builds the app, listens (HTTP on PORT, gRPC
 * on GRPC_PORT) and loads the models. A wrong setting, a port in use, or a default model without
 * a version that can serve, stops start-up with one clear line.
 *
 * Life cycle: listening (alive, not ready) → the model repository loads, checks and warms up
 * each model's version, while the token issuer's keys are fetched (retried until they are in) →
 * ready (both servers: one readiness) → on SIGTERM or SIGINT: not ready,
 * no new connections, in-flight requests and calls finish within SHUTDOWN_GRACE_MS, on both
 * servers at once → exit 0 (1 when connections had to be cut at the end of the grace period, or
 * at a second signal), after the spans still buffered are exported (tracing, when on).
 */
import path from 'node:path';
import { createSecurityHandlers } from './auth/security-handler.js';
import { authFromConfig } from './auth/setup.js';
import { captureFromConfig } from './capture/service.js';
import { ConfigError, loadConfig, redactConfig } from './config/config.js';
import { uiConfigFor } from './frontends/course/ui-config.js';
import { createGrpcServer } from './frontends/grpc/server.js';
import { createApp } from './app.js';
import { originOf } from './http/page.js';
import { createServer } from './http/server.js';
import { createReadiness } from './lifecycle/readiness.js';
import { closeGracefully } from './lifecycle/shutdown.js';
import { createLogger } from './log.js';
import { ManifestError } from './model/manifest.js';
import { payloadLoggerFromConfig } from './payload/logger.js';
import { repositoryFromConfig } from './repository/from-config.js';
import { serverVersion } from './oip/server.js';
import { readSpec, rootDir } from './spec.js';
import { startTracing } from './tracing/setup.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`cat-dog-other: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const log = createLogger(config.logLevel);
  log.info({ config: redactConfig(config) }, 'configuration');
  // OpenTelemetry traces (OTEL_*), before the app is built: off, nothing is registered.
  const tracing = startTracing(config.tracing, serverVersion());

  // The spec's securitySchemes decide which operations need a token; AUTH_DISABLED=true warns here.
  const auth = authFromConfig(config.auth, log);
  const { verifier } = auth;
  // Label Studio's connection form authenticates with Basic (LABEL_STUDIO_BACKEND_*).
  const securityHandlers = createSecurityHandlers(readSpec(), { verifier, basic: config.labelStudio.backend });

  // Loaded once the server listens (alive, not ready), by `start()` below.
  const repository = repositoryFromConfig(config.models, config, log);
  const readiness = createReadiness('warming-up', () => repository.health(), auth.issuerReached);
  // A sample of the answers, their images and feedback (CAPTURE_*); none when off and empty.
  const captures = captureFromConfig(config.capture, log);
  // Every request and answer as CloudEvents (PAYLOAD_LOGGER_URL); none when unset.
  const payloads = payloadLoggerFromConfig(config.payloadLogger, log);
  const app = await createApp({
    repository,
    management: repository,
    log,
    securityHandlers,
    verifier,
    readiness,
    requests: config.requests,
    admission: config.admission,
    explain: config.explain,
    rateLimit: config.rateLimit,
    shadow: config.shadow,
    access: config.access,
    // Swagger UI's "Authorize" then asks the issuer the service trusts for a token.
    docs: {
      ...(config.auth.enabled ? { issuer: config.auth.issuer } : {}),
      tokenUrl: () => verifier?.tokenEndpoint?.(),
    },
    page: {
      dir: path.join(rootDir, 'dist', 'web'),
      // The page reads the issuer's discovery document and calls its token endpoint.
      connectOrigins: () =>
        config.auth.enabled
          ? [originOf(config.auth.issuer), originOf(verifier?.tokenEndpoint?.())].filter((o): o is string => o !== undefined)
          : [],
    },
    uiConfig: uiConfigFor(config.auth, readSpec()),
    ...(captures ? { captures } : {}),
    ...(payloads ? { payloads } : {}),
    labelStudio: config.labelStudio,
    evidence: config.evidence,
  });
  if (!app.pageBuilt) log.warn({ dir: path.join(rootDir, 'dist', 'web') }, 'the web page is not built (make web): GET / answers 404');
  const { server: settings } = config;
  // Refused connections come in floods: one warning per 10 s at most, with the counts by address.
  let refused = new Map<string, number>();
  let refusedWarnedAt = 0;
  const server = createServer(app, settings, {
    onConnectionProblem: (problem) => log.info({ status: problem.status, problem: problem.code }, 'connection refused before routing'),
    onConnectionRefused: (_problem, address) => {
      // Bounded: a flood from many addresses is summed under `other`.
      const key = refused.has(address) || refused.size < 1_000 ? address : 'other';
      refused.set(key, (refused.get(key) ?? 0) + 1);
      if (Date.now() - refusedWarnedAt < 10_000) return;
      const top = [...refused].sort((a, b) => b[1] - a[1]).slice(0, 5);
      log.warn(
        { refused: Object.fromEntries(top), maxConnections: settings.maxConnections, maxConnectionsPerAddress: settings.maxConnectionsPerAddress },
        'connection budget exhausted: new connections answered 503 too-many-connections',
      );
      refusedWarnedAt = Date.now();
      refused = new Map();
    },
  });

  const grpcSettings = config.grpc;
  const grpcServer = grpcSettings
    ? createGrpcServer(app.grpc, grpcSettings, {
      onConnectionRefused: (scope, address) => {
        app.metrics.countRejection('too-many-connections');
        log.info({ scope, address, protocol: 'grpc' }, 'gRPC connection refused by the connection budget');
      },
      onFlowControlUnavailable: () => log.warn('GRPC_FLOW_CONTROL_WINDOW not applied: this grpc-js does not expose its HTTP/2 servers; HTTP/2\'s 64 KiB windows apply'),
    })
    : undefined;

  let stopping = false;
  const stop = async (signal: string, failure = false): Promise<void> => {
    if (stopping) {
      if (failure) return;
      log.warn({ signal }, 'second signal: exiting without waiting for in-flight requests');
      process.exit(1);
    }
    stopping = true;
    readiness.startDraining();
    log.info({ signal, graceMs: settings.shutdownGraceMs }, 'draining');
    const [httpClean, grpcClean] = await Promise.all([
      closeGracefully(server, settings.shutdownGraceMs),
      grpcServer?.drain(settings.shutdownGraceMs) ?? true,
    ]);
    const clean = httpClean && grpcClean;
    if (!clean) log.warn({ graceMs: settings.shutdownGraceMs }, 'grace period over: remaining connections closed');
    // The answers given are captured before the writer stops (within a few seconds).
    await captures?.close();
    // The events of the answers given go within a few seconds, or are dropped and counted.
    await payloads?.close();
    await repository.close();
    // The spans of the last requests are exported before the process exits.
    await tracing?.shutdown().catch((err: unknown) => log.warn({ err }, 'could not export the last spans'));
    log.info({ clean }, 'stopped');
    process.exit(clean && !failure ? 0 : 1);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  // Crash-only: a model that can no longer run is left to the supervisor to restart.
  void repository.failed.then((err) => {
    log.fatal({ err }, 'the model can no longer run: stopping');
    void stop('model-failed', true);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(settings.port, settings.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : settings.port;
  // Bound to every interface: this machine reaches it on loopback.
  const host = ['0.0.0.0', '::'].includes(settings.host) ? '127.0.0.1' : settings.host.includes(':') ? `[${settings.host}]` : settings.host;
  // `port` last: tools read `"port":N,"msg":"listening"` from this line.
  log.info({ host: settings.host, page: app.pageBuilt ? `http://${host}:${port}/` : undefined, port }, 'listening');
  // Now that building the app no longer holds the event loop (see authFromConfig), retried until in.
  const issuerKeys = auth.fetchKeys();
  if (grpcServer) {
    // `grpcPort` last: tools read `"grpcPort":N,"msg":"gRPC listening"` from this line.
    const grpcPort = await grpcServer.listen();
    log.info({ host: settings.host, tls: grpcSettings?.tls !== undefined, grpcPort }, 'gRPC listening');
  }

  // Alive from here on; ready once the default model has a version loaded, checked and warmed up.
  try {
    await repository.start();
  } catch (err) {
    process.stderr.write(`cat-dog-other: cannot start: ${(err as Error).message}\n`);
    await captures?.close();
    await repository.close();
    process.exit(1);
  }
  readiness.markWarmedUp();
  if (!auth.issuerReached()) {
    log.info({ models: repository.index().filter((e) => e.state === 'READY') }, 'models ready; waiting for the token issuer\'s keys');
    await issuerKeys;
  }
  log.info({ models: repository.index().filter((e) => e.state === 'READY'), control: config.models.control }, 'ready');
}

main().catch((err: unknown) => {
  const message = err instanceof ManifestError || err instanceof Error ? err.message : String(err);
  process.stderr.write(`cat-dog-other: cannot start: ${message}\n`);
  process.exit(1);
});
