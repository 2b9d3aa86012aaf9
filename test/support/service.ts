/**
 * Starts the real service in-process on an ephemeral loopback port, with a model the test
 * chooses (a fixture model written to a temporary folder, or the real default model), and
 * gives the test its base URL and the openapi-backend instance to validate responses.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { OpenAPIBackend } from 'openapi-backend';
import { createSecurityHandlers } from '../../src/auth/security-handler.js';
import { createApp, type App, type AppDeps } from '../../src/app.js';
import { configDefaults, type RequestLimits } from '../../src/config/config.js';
import { createServer, type ServerLimits } from '../../src/http/server.js';
import { createLogger, type Logger } from '../../src/log.js';
import { loadClassifier, type Classifier } from '../../src/model/classifier.js';
import { loadManifest } from '../../src/model/manifest.js';
import { scanRepository } from '../../src/repository/layout.js';
import { versionLoader } from '../../src/repository/load-version.js';
import { readPolicy } from '../../src/repository/policy.js';
import { createModelRepository, type LoadedRepository } from '../../src/repository/repository.js';
import { createStaticRepository } from '../../src/repository/static.js';
import type { ModelControl, ModelRepository } from '../../src/repository/types.js';
import { readSpec, rootDir } from '../../src/spec.js';

/** Version 1 of the default model in the default repository, as `make model` builds it. */
export const defaultModelManifest = path.join(rootDir, 'resources', 'models', 'repository', 'catdog', '1', 'manifest.json');

/** A running service. */
export interface RunningService {
  readonly url: string;
  readonly api: OpenAPIBackend;
  readonly classifier: Classifier;
  /** The repository serving it, as model `catdog` version `1`. */
  readonly repository: ModelRepository;
  /** The app (its readiness and metrics). */
  readonly app: App;
  /** How many times the classifier ran an image (to prove a refused request did not). */
  classifications(): number;
  /** How many explanations the classifier started. */
  explanations(): number;
  /** Client connections the server holds open now (it sees a client's close a moment after the client). */
  connections(): Promise<number>;
  close(): Promise<void>;
}

/** A fixture model: ONNX bytes plus a manifest builder taking (file, sha256). */
export interface FixtureModel {
  readonly bytes: Uint8Array;
  readonly manifest: (file: string, sha256: string) => Record<string, unknown>;
}

/** Writes a fixture model and its manifest to a new temporary folder; returns the manifest path. */
export async function writeFixtureModel(model: FixtureModel): Promise<{ manifestPath: string; dir: string }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cdo-model-'));
  const file = path.join(dir, 'model.onnx');
  await writeFile(file, model.bytes);
  const sha256 = createHash('sha256').update(model.bytes).digest('hex');
  const manifestPath = path.join(dir, 'manifest.json');
  await writeFile(manifestPath, JSON.stringify(model.manifest('model.onnx', sha256)));
  return { manifestPath, dir };
}

/** Options of {@link startService}. */
export interface StartOptions {
  /** A fixture model, or a manifest path (for the real model). */
  readonly model: FixtureModel | { readonly manifestPath: string };
  readonly maxUploadBytes?: number;
  readonly maxImagePixels?: number;
  /**
   * Handlers of the spec's security schemes (test/contract/auth.test.ts passes real ones); by
   * default those of AUTH_DISABLED=true, so that tests about other concerns need no token.
   */
  readonly securityHandlers?: AppDeps['securityHandlers'];
  /** The token verifier of gRPC calls (and of the security handlers when none are given); default none (AUTH_DISABLED=true). */
  readonly verifier?: AppDeps['verifier'];
  readonly admission?: AppDeps['admission'];
  /** Each client's rate limit; default the configuration's. */
  readonly rateLimit?: AppDeps['rateLimit'];
  /** Bounds of `POST /explain`; default the configuration's. */
  readonly explain?: AppDeps['explain'];
  readonly readiness?: AppDeps['readiness'];
  readonly metricsPublic?: boolean;
  readonly docs?: AppDeps['docs'];
  /** Bounds of request bodies (V2 inference among them); default the configuration's, with `maxUploadBytes` above. */
  readonly requests?: Partial<RequestLimits>;
  readonly modelMetadataPublic?: boolean;
  /** The built web page to serve at `GET /` (`dist/web/`); default none. */
  readonly page?: AppDeps['page'];
  /** What `GET /ui/config` answers; default the app's (no sign-in). */
  readonly uiConfig?: AppDeps['uiConfig'];
  /** Connection-level limits; default the configuration's defaults. */
  readonly server?: Partial<ServerLimits>;
  /** Awaited inside each classification, before the model runs (to hold requests in flight), with the image's bytes as the classifier gets them. */
  readonly beforeClassify?: (image: Uint8Array) => Promise<void>;
  /** Awaited inside each explanation, before the model runs. */
  readonly beforeExplain?: () => Promise<void>;
  /** The app's logger; default silent (or TEST_LOG_LEVEL). */
  readonly log?: Logger;
  /** The capture store (`createCaptureService`); default none. */
  readonly captures?: AppDeps['captures'];
  /** The Label Studio backend's settings; default the configuration's. */
  readonly labelStudio?: AppDeps['labelStudio'];
  /** The evidence's window and low-confidence threshold; default the configuration's. */
  readonly evidence?: AppDeps['evidence'];
}

/** Starts the service on 127.0.0.1:0. */
export async function startService(options: StartOptions): Promise<RunningService> {
  let tmp: string | undefined;
  let manifestPath: string;
  if ('bytes' in options.model) {
    ({ manifestPath, dir: tmp } = await writeFixtureModel(options.model));
  } else {
    manifestPath = options.model.manifestPath;
  }
  const manifest = await loadManifest(manifestPath);
  const inner = await loadClassifier(manifest, { maxImagePixels: options.maxImagePixels ?? 40_000_000 });
  let count = 0;
  let explained = 0;
  const classifier: Classifier = {
    ...inner,
    classify: async (image, header, client) => {
      count++;
      await options.beforeClassify?.(image);
      return inner.classify(image, header, client);
    },
    explain: async (image, explainOptions) => {
      explained++;
      await options.beforeExplain?.();
      return inner.explain(image, explainOptions);
    },
  };
  const repository = createStaticRepository({ name: 'catdog', manifest, classifier });
  const defaults = configDefaults();
  const app = await createApp({
    repository,
    log: options.log ?? createLogger(process.env.TEST_LOG_LEVEL ?? 'silent'),
    requests: { ...defaults.requests, maxUploadBytes: options.maxUploadBytes ?? defaults.requests.maxUploadBytes, ...options.requests },
    securityHandlers: options.securityHandlers ?? createSecurityHandlers(readSpec(), { verifier: options.verifier }),
    verifier: options.verifier,
    ...(options.admission ? { admission: options.admission } : {}),
    ...(options.explain ? { explain: options.explain } : {}),
    ...(options.rateLimit ? { rateLimit: options.rateLimit } : {}),
    ...(options.readiness ? { readiness: options.readiness } : {}),
    access: {
      ...(options.metricsPublic === undefined ? {} : { metricsPublic: options.metricsPublic }),
      ...(options.modelMetadataPublic === undefined ? {} : { modelMetadataPublic: options.modelMetadataPublic }),
    },
    ...(options.docs ? { docs: options.docs } : {}),
    ...(options.page ? { page: options.page } : {}),
    ...(options.uiConfig ? { uiConfig: options.uiConfig } : {}),
    ...(options.captures ? { captures: options.captures } : {}),
    ...(options.labelStudio ? { labelStudio: options.labelStudio } : {}),
    ...(options.evidence ? { evidence: options.evidence } : {}),
  });
  const server: Server = createServer(app, { ...defaults.server, ...options.server });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    api: app.api,
    app,
    classifier,
    repository,
    classifications: () => count,
    explanations: () => explained,
    connections: () => new Promise((resolve, reject) => server.getConnections((err, n) => (err ? reject(err) : resolve(n)))),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await inner.close();
      if (tmp) await rm(tmp, { recursive: true, force: true });
    },
  };
}

/** A running service on a real model repository (in-process: its inference runs on the event loop). */
export interface RepositoryService {
  readonly url: string;
  readonly api: OpenAPIBackend;
  readonly repository: LoadedRepository;
  /** The app (its gRPC front-end among the rest). */
  readonly app: App;
  close(): Promise<void>;
}

/**
 * Starts the service on the model repository at `root` (`MODEL_CONTROL` `control`), with the
 * given security handlers (default: AUTH_DISABLED=true), on 127.0.0.1:0.
 */
export async function startRepositoryService(
  root: string,
  options: { readonly control?: ModelControl; readonly securityHandlers?: AppDeps['securityHandlers']; readonly verifier?: AppDeps['verifier']; readonly page?: AppDeps['page'] } = {},
): Promise<RepositoryService> {
  const log = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent');
  const repository = createModelRepository({
    defaultModel: 'catdog',
    control: options.control ?? 'explicit',
    scan: () => scanRepository(root),
    readPolicy: (name) => readPolicy(root, name),
    load: versionLoader({ limits: { maxImagePixels: 40_000_000 }, classifier: { workers: 0 }, maxModelBytes: configDefaults().models.maxModelBytes }),
    log,
  });
  await repository.start();
  const app = await createApp({
    repository,
    management: repository,
    log,
    securityHandlers: options.securityHandlers ?? createSecurityHandlers(readSpec(), { verifier: options.verifier }),
    verifier: options.verifier,
    ...(options.page ? { page: options.page } : {}),
  });
  const server = createServer(app, configDefaults().server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    api: app.api,
    repository,
    app,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await repository.close();
    },
  };
}
