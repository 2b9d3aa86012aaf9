/**
 * The process entry point: reads the configuration, loads the model, builds the app and
 * listens. A wrong setting or a broken model stops start-up with one clear line.
 */
import { ConfigError, loadConfig, redactConfig } from './config.js';
import { createApp } from './http/app.js';
import { createLogger } from './log.js';
import { loadClassifier } from './model/classifier.js';
import { loadManifest, ManifestError } from './model/manifest.js';

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

  const manifest = await loadManifest(config.modelManifestPath);
  const classifier = await loadClassifier(manifest, { maxImagePixels: config.maxImagePixels });
  log.info({ model: manifest.name, sha256: manifest.sha256, labels: manifest.labels }, 'model loaded');

  const { koa } = await createApp({ classifier, log, limits: { maxUploadBytes: config.maxUploadBytes } });
  const server = koa.listen(config.port, config.host, () => {
    log.info({ host: config.host, port: config.port }, 'listening');
  });

  const stop = (signal: string): void => {
    log.info({ signal }, 'stopping');
    server.close(() => {
      void classifier.close().finally(() => process.exit(0));
    });
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

main().catch((err: unknown) => {
  const message = err instanceof ManifestError || err instanceof Error ? err.message : String(err);
  process.stderr.write(`cat-dog-other: cannot start: ${message}\n`);
  process.exit(1);
});
