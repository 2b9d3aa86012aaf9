/**
 * The package's public surface: build the app, load configuration and models.
 * `src/main.ts` is the process entry point; this module only re-exports.
 */
export { createApp, type App, type AppDeps } from './app.js';
export { createInferenceCore, type InferenceCore } from './inference/core.js';
export { loadConfig, ConfigError, type Config } from './config/config.js';
export { loadManifest, parseManifest, manifestSchema, ManifestError, type Manifest } from './model/manifest.js';
export { loadClassifier, type Classifier, type Classification } from './model/classifier.js';
export { ProblemError, problemCatalogue, type ProblemCode } from './errors.js';
export type { paths, operations, components } from '../generated/openapi.js';
export * from './client/index.js';
