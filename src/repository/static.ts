/**
 * A repository of one model version, loaded before it is built and never replaced: what
 * `MODEL_MANIFEST` serves (and what tests build around a fixture model).
 */
import { ModelNotFound, ModelUnavailable } from '../errors.js';
import type { Classifier } from '../model/classifier.js';
import type { Manifest } from '../model/manifest.js';
import type { Lease, ModelRepository, RepositoryHealth, ServedModel } from './types.js';

/** The one version a static repository serves. */
export interface StaticModel {
  /** The model's name in the repository (`DEFAULT_MODEL`). */
  readonly name: string;
  /** Its version; default `1`. */
  readonly version?: string;
  readonly manifest: Manifest;
  readonly classifier: Classifier;
}

/** Creates a repository serving `model`, READY at once; closing it closes the classifier. */
export function createStaticRepository(model: StaticModel): ModelRepository {
  const served: ServedModel = {
    name: model.name,
    version: model.version ?? '1',
    manifest: model.manifest,
    classifier: model.classifier,
  };
  const lease: Lease = { model: served, release: () => {} };
  return {
    defaultModel: served.name,
    acquire(name, version) {
      if (name !== served.name) throw new ModelNotFound(name);
      if (version !== undefined && version !== served.version) throw new ModelNotFound(name, version);
      // The process is stopping (see main.ts); until it has, say so rather than fail each request.
      if (served.classifier.health() === 'failed') throw new ModelUnavailable(name, version, 'its inference workers keep crashing');
      return lease;
    },
    index: () => [{ name: served.name, version: served.version, state: 'READY', reason: '' }],
    readyVersions: (name) => (name === served.name ? [served.version] : []),
    loaded: () => [served],
    health: (): RepositoryHealth => served.classifier.health(),
    failed: served.classifier.failed,
    close: () => served.classifier.close(),
  };
}
