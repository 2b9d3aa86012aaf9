/**
 * The model repository: serves several models and versions side by side and swaps versions
 * under load without failing a request (see `types.ts` for the contract, `records.ts` for which
 * versions are loaded). This module is its entry point and the side requests see: leases,
 * ready versions, health, the index. The manager (`manager.ts`) decides what is loaded and
 * serves; each version's load, leases, retirement and close are `version-life.ts`'s.
 *
 * A swap: the new version is loaded beside the one serving (its own inference engine, warm-up
 * and checks, `load-version.ts`), then the model's `serving` pointer moves to it in one
 * synchronous step; requests in flight keep their lease on the old instance, which is closed
 * when its last lease is released. One version loads at a time, across models. A version that
 * fails its checks is UNAVAILABLE with the reason, and what served keeps serving.
 */
import { ModelNotFound, ModelUnavailable, ModelVersionNotLoaded } from '../errors.js';
import { RepositoryManager, type RepositoryOptions } from './manager.js';
import { describePolicy } from './policy.js';
import { newestFirst, reasonOf, unavailableReason, wanted, type ModelRecord, type VersionRecord } from './records.js';
import type { ModelRepository, RepositoryHealth, RepositoryManagement, ServedModel } from './types.js';

/** A repository to start: it serves once {@link LoadedRepository.start} resolves. */
export interface LoadedRepository extends ModelRepository, RepositoryManagement {
  /**
   * Scans the repository and loads each model's newest valid version, the default model first;
   * then, with `poll`, rescans it periodically.
   *
   * @throws Error when the default model has no version that can serve (each version's reason).
   */
  start(): Promise<void>;
}

/** Creates the repository; nothing is read before {@link LoadedRepository.start}. */
export function createModelRepository(options: RepositoryOptions): LoadedRepository {
  const { defaultModel, control } = options;
  const manager = new RepositoryManager(options);
  const models = manager.models;

  return {
    defaultModel,
    control,
    failed: manager.failed,
    index: () => manager.index(),

    acquire(name, version) {
      const model = models.get(name);
      if (!model) {
        // The server listens (and answers its liveness) before the repository's first scan:
        // until that is done, an unknown model is one not read yet, not one that does not exist.
        if (!manager.started) throw new ModelUnavailable(name, version, 'the model repository is being read');
        throw new ModelNotFound(name);
      }
      const record = version === undefined ? model.serving : model.versions.get(version);
      if (!record) {
        if (version === undefined) throw new ModelUnavailable(name, undefined, unavailableReason(model));
        throw new ModelNotFound(name, version);
      }
      const instance = record.instance;
      if (!instance) {
        // Waiting helps a version loading; one the policy leaves out (or unloaded) needs a load: 404, saying how.
        const comingSoon = manager.busy(name) && wanted(model).keep.includes(record);
        if (version !== undefined && !comingSoon && notKept(model, record)) throw new ModelVersionNotLoaded(name, version, whyNotLoaded(model, record));
        throw new ModelUnavailable(name, version, reasonOf(model, record));
      }
      // The process is stopping (see main.ts); until it has, say so rather than fail each request.
      if (instance.served.classifier.health() === 'failed') throw new ModelUnavailable(name, version, 'its inference workers keep crashing');
      return manager.life.lease(model, record, instance);
    },

    routes(name) {
      const model = models.get(name);
      const serving = model?.serving;
      if (!model || !serving) return undefined;
      const { canary, shadow } = model.traffic;
      const ready = (version: string | undefined): boolean => version !== undefined && version !== serving.version && model.versions.get(version)?.instance !== undefined;
      const routedCanary = ready(canary?.version) && canary!.percent > 0;
      const routedShadow = ready(shadow?.version);
      if (!routedCanary && !routedShadow) return undefined;
      return { serving: serving.version, ...(routedCanary ? { canary: canary! } : {}), ...(routedShadow ? { shadow: shadow! } : {}) };
    },

    readyVersions: (name) => {
      const model = models.get(name);
      return model ? newestFirst(model).filter((r) => r.instance).map((r) => r.version) : [];
    },

    loaded: () => {
      const served: ServedModel[] = [];
      for (const model of models.values()) {
        for (const record of model.versions.values()) {
          if (record.instance) served.push(record.instance.served);
          for (const instance of record.draining) served.push(instance.served);
        }
      }
      return served;
    },

    health(): RepositoryHealth {
      const model = models.get(defaultModel);
      if (!manager.started) return 'loading';
      if (model?.serving?.instance) return model.serving.instance.served.classifier.health();
      return model && [...model.versions.values()].some((r) => r.loading) ? 'loading' : 'unavailable';
    },

    start: () => manager.start(),
    refreshIndex: () => manager.refreshIndex(),
    load: (name, version) => manager.load(name, version),
    unload: (name, version) => manager.unload(name, version),
    activity: () => manager.activity(),
    traffic: (name) => manager.traffic(name),
    setTraffic: (name, setting) => manager.setTraffic(name, setting),
    close: () => manager.close(),
  };
}

/** Whether `record` is simply not loaded: not loading, refused, unloaded with its model, nor gone from disk. */
function notKept(model: ModelRecord, record: VersionRecord): boolean {
  return !model.unloaded && !record.loading && record.files !== undefined
    && (record.refused === undefined || record.refused.fingerprint !== record.files.fingerprint);
}

/** Why a version that is not kept is not loaded, for its 404. */
function whyNotLoaded(model: ModelRecord, record: VersionRecord): string {
  if (record.unloaded) return 'it was unloaded through the management API';
  const kept = wanted(model).keep.map((r) => r.version);
  return `${describePolicy(model.policy)} keeps ${kept.length === 1 ? 'version' : 'versions'} ${kept.join(', ')} loaded`;
}
