/**
 * The repository the configuration describes: the folder `MODEL_REPOSITORY`, or the one
 * manifest `MODEL_MANIFEST` served as version 1 of `DEFAULT_MODEL`, with `MODEL_CONTROL`.
 */
import type { Logger } from '../log.js';
import type { ClassifierOptions } from '../model/classifier.js';
import type { PreprocessLimits } from '../model/image/preprocess.js';
import { manifestLayout, scanRepository } from './layout.js';
import { readPolicy } from './policy.js';
import { versionLoader } from './load-version.js';
import { createModelRepository, type LoadedRepository } from './repository.js';
import type { ModelControl } from './types.js';

/** Where the models come from and what changes them (the configuration's `models`). */
export interface RepositorySettings {
  /** The model repository's folder (unused when `manifestPath` is set). */
  readonly repositoryPath: string;
  /** One manifest served as version 1 of `defaultModel`, instead of the repository; `undefined`: the repository. */
  readonly manifestPath: string | undefined;
  /** The model `/upload` serves. */
  readonly defaultModel: string;
  /** What changes the versions served after start-up: nothing, the management API, or it and a rescan. */
  readonly control: ModelControl;
  /** Time between two scans of the repository with `control` `poll`, in milliseconds. */
  readonly pollIntervalMs: number;
  /** Largest model file a version may name, in bytes. */
  readonly maxModelBytes: number;
}

/** How each version is loaded: decoding limits and how the engine runs (the configuration's `images` and `engine`). */
export interface LoadSettings {
  readonly images: PreprocessLimits;
  readonly engine: ClassifierOptions;
}

/** Creates the repository `models` describes; `start()` it to load the models. */
export function repositoryFromConfig(models: RepositorySettings, load: LoadSettings, log: Logger): LoadedRepository {
  const manifest = models.manifestPath;
  const root = models.repositoryPath;
  return createModelRepository({
    defaultModel: models.defaultModel,
    control: models.control,
    pollIntervalMs: models.pollIntervalMs,
    scan: manifest === undefined
      ? () =>
        scanRepository(root).catch((err: unknown) => {
          const code = (err as NodeJS.ErrnoException).code ?? String(err);
          throw new Error(`MODEL_REPOSITORY ${root} cannot be read (${code}); run "make model"`, { cause: err });
        })
      : () => manifestLayout(models.defaultModel, manifest),
    ...(manifest === undefined ? { readPolicy: (name: string) => readPolicy(root, name) } : {}),
    load: versionLoader({ limits: load.images, classifier: load.engine, maxModelBytes: models.maxModelBytes }),
    log: log.child({ component: 'model-repository' }),
  });
}
