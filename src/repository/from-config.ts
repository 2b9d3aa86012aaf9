/**
 * The repository the configuration describes: the folder `MODEL_REPOSITORY`, or the one
 * manifest `MODEL_MANIFEST` served as version 1 of `DEFAULT_MODEL`, with `MODEL_CONTROL`.
 */
import type { Config } from '../config/config.js';
import type { Logger } from '../log.js';
import { classifierOptionsFrom, preprocessLimitsFrom } from '../model/classifier.js';
import { manifestLayout, scanRepository } from './layout.js';
import { versionLoader } from './load-version.js';
import { createModelRepository, type LoadedRepository } from './repository.js';

/** Creates the repository of `config`; `start()` it to load the models. */
export function repositoryFromConfig(config: Config, log: Logger): LoadedRepository {
  const manifest = config.modelManifestPath;
  const root = config.modelRepositoryPath;
  return createModelRepository({
    defaultModel: config.defaultModel,
    control: config.modelControl,
    pollIntervalMs: config.modelPollIntervalMs,
    scan: manifest === undefined
      ? () =>
        scanRepository(root).catch((err: unknown) => {
          const code = (err as NodeJS.ErrnoException).code ?? String(err);
          throw new Error(`MODEL_REPOSITORY ${root} cannot be read (${code}); run "make model"`, { cause: err });
        })
      : () => manifestLayout(config.defaultModel, manifest),
    load: versionLoader({ limits: preprocessLimitsFrom(config), classifier: classifierOptionsFrom(config) }),
    log: log.child({ component: 'model-repository' }),
  });
}
