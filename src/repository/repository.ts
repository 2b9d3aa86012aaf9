/**
 * The model repository: serves several models and versions side by side and swaps versions
 * under load without failing a request (see `types.ts` for the contract, `records.ts` for which
 * versions are loaded).
 *
 * A swap: the new version is loaded beside the one serving (its own inference engine, warm-up
 * and checks, `load-version.ts`), then the model's `serving` pointer moves to it in one
 * synchronous step; requests in flight keep their lease on the old instance, which is closed
 * when its last lease is released. One version loads at a time, across models. A version that
 * fails its checks is UNAVAILABLE with the reason, and what served keeps serving.
 */
import { ModelControlDisabled, ModelLoadFailed, ModelNotFound, ModelUnavailable } from '../errors.js';
import type { Logger } from '../log.js';
import { ActivityCounters } from './activity.js';
import { ModelCatalogue } from './catalogue.js';
import type { Layout } from './layout.js';
import type { VersionLoader } from './load-version.js';
import { startPolling, type Polling } from './poll.js';
import {
  missingOf,
  newestFirst,
  reasonOf,
  statusOf,
  unavailableReason,
  wanted,
  type ModelRecord,
  type VersionRecord,
} from './records.js';
import type {
  IndexEntry,
  ModelControl,
  ModelRepository,
  RepositoryHealth,
  RepositoryManagement,
  ServedModel,
} from './types.js';
import { VersionLife } from './version-life.js';

/** How a repository finds and loads its versions. */
export interface RepositoryOptions {
  /** The model `/upload` serves (`DEFAULT_MODEL`). */
  readonly defaultModel: string;
  readonly control: ModelControl;
  /** Reads the layout: the repository's folder (`scanRepository`), or MODEL_MANIFEST's one version. */
  readonly scan: () => Promise<Layout>;
  /** Loads and checks one version (`versionLoader`). */
  readonly load: VersionLoader;
  /** With `poll`, the time between two scans, in milliseconds. */
  readonly pollIntervalMs?: number;
  readonly log: Logger;
}

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
  const { defaultModel, control, log } = options;
  const catalogue = new ModelCatalogue(log);
  const models = catalogue.models;
  const counters = new ActivityCounters();
  let started = false;
  let closed = false;
  let polling: Polling | undefined;
  let giveUp: (err: Error) => void = () => {};
  const failed = new Promise<Error>((resolve) => (giveUp = resolve));

  // One version loads at a time, across models: at most one extra engine is being created.
  let loadQueue: Promise<unknown> = Promise.resolve();
  const oneAtATime = <T>(task: () => Promise<T>): Promise<T> => {
    const run = loadQueue.then(task);
    loadQueue = run.catch(() => {});
    return run;
  };

  const life = new VersionLife({
    load: (name, version, files) => oneAtATime(() => (closed ? Promise.reject(new Error('the repository is closed')) : options.load(name, version, files))),
    isClosed: () => closed,
    count: (name, outcome) => counters.loaded(name, outcome),
    engineFailed,
    instanceClosed: (model) => catalogue.forget(model),
  });

  /** Inference workers that keep crashing: the process stops if the version serves the default model; otherwise it is refused. */
  function engineFailed(model: ModelRecord, record: VersionRecord, err: Error): void {
    if (model.name === defaultModel && model.serving === record) {
      giveUp(err);
      return;
    }
    life.refuseFailed(model, record, err);
    if (model.serving === record) switchTo(model, undefined);
    void rescanModel(model);
  }

  /** Loads what `model` is missing of the versions it wants, one at a time, then {@link settle}s. */
  async function reconcile(model: ModelRecord): Promise<void> {
    for (;;) {
      if (closed) return;
      const missing = missingOf(model);
      if (!missing) break;
      // Refused, it is no longer wanted: the next pass picks the next candidate.
      await life.load(model, missing);
    }
    settle(model);
  }

  /**
   * Switches `model` to the version that should serve and retires the loaded versions no longer
   * wanted. Synchronous, and called only when every wanted version is loaded: the swap is atomic.
   */
  function settle(model: ModelRecord): void {
    const { primary, newest } = wanted(model);
    const next = primary?.instance ? primary : undefined;
    if (next !== model.serving) switchTo(model, next);
    for (const record of model.versions.values()) {
      if (record.instance && record !== primary && record !== newest) life.retire(model, record);
    }
    catalogue.forget(model);
  }

  function switchTo(model: ModelRecord, next: VersionRecord | undefined): void {
    const previous = model.serving?.version;
    model.serving = next;
    counters.switched(model.name);
    if (next) model.log.info({ version: next.version, previous, pinned: model.pin === next.version }, 'model version serving');
    else model.log.warn({ previous }, 'model has no version serving');
  }

  /** With `poll`: records the disk's layout, then brings each model that is not busy in line with it. */
  async function rescan(): Promise<void> {
    let layout;
    try {
      layout = await options.scan();
    } catch (err) {
      log.warn({ err }, 'model repository scan failed: what serves keeps serving');
      return;
    }
    catalogue.apply(layout);
    for (const model of [...models.values()]) await rescanModel(model);
  }

  async function rescanModel(model: ModelRecord): Promise<void> {
    if (catalogue.busy(model.name) || closed) return;
    const missing = missingOf(model);
    if (!missing) return settle(model);
    await catalogue.claimed(model.name, `loading version ${missing.version}`, () => reconcile(model));
  }

  const index = (): IndexEntry[] => catalogue.index();

  return {
    defaultModel,
    control,
    failed,
    index,

    acquire(name, version) {
      const model = models.get(name);
      if (!model) {
        // The server listens (and answers its liveness) before the repository's first scan:
        // until that is done, an unknown model is one not read yet, not one that does not exist.
        if (!started) throw new ModelUnavailable(name, version, 'the model repository is being read');
        throw new ModelNotFound(name);
      }
      const record = version === undefined ? model.serving : model.versions.get(version);
      if (!record) {
        if (version === undefined) throw new ModelUnavailable(name, undefined, unavailableReason(model));
        throw new ModelNotFound(name, version);
      }
      const instance = record.instance;
      if (!instance) throw new ModelUnavailable(name, version, reasonOf(model, record));
      // The process is stopping (see main.ts); until it has, say so rather than fail each request.
      if (instance.served.classifier.health() === 'failed') throw new ModelUnavailable(name, version, 'its inference workers keep crashing');
      return life.lease(model, record, instance);
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
      if (!started) return 'loading';
      if (model?.serving?.instance) return model.serving.instance.served.classifier.health();
      return model && [...model.versions.values()].some((r) => r.loading) ? 'loading' : 'unavailable';
    },

    async start() {
      catalogue.apply(await options.scan());
      const order = [...models.keys()].sort((a, b) => Number(b === defaultModel) - Number(a === defaultModel) || (a < b ? -1 : 1));
      for (const name of order) {
        const model = models.get(name);
        if (!model) continue;
        await catalogue.claimed(name, 'loading', () => reconcile(model));
      }
      started = true;
      const model = models.get(defaultModel);
      if (!model?.serving) {
        const reasons = model ? newestFirst(model).map((r) => `version ${r.version}: ${r.refused?.detail ?? reasonOf(model, r)}`) : [];
        throw new Error(`model "${defaultModel}" has no version that can serve${reasons.length ? `: ${reasons.join('; ')}` : ' (no such model folder, or no version folder in it)'}`);
      }
      if (control === 'poll') polling = startPolling(rescan, options.pollIntervalMs ?? 5_000);
    },

    async refreshIndex() {
      if (control !== 'poll') {
        try {
          catalogue.apply(await options.scan());
        } catch (err) {
          log.warn({ err }, 'model repository scan failed');
        }
      }
      return index();
    },

    async load(name, version) {
      if (control === 'none') throw new ModelControlDisabled();
      return catalogue.claimed(name, version === undefined ? 'loading its newest version' : `loading version ${version}`, async () => {
        catalogue.apply(await options.scan(), name);
        const model = models.get(name);
        if (!model) throw new ModelNotFound(name);
        model.unloaded = false;
        if (version === undefined) {
          model.pin = undefined;
          // Asked again: versions unloaded or refused are tried again.
          for (const record of model.versions.values()) {
            record.unloaded = false;
            if (!record.instance) record.refused = undefined;
          }
        } else {
          const record = model.versions.get(version);
          if (!record?.files) throw new ModelNotFound(name, version);
          record.unloaded = false;
          if (!record.instance) {
            record.refused = undefined;
            await life.load(model, record);
          }
          if (!record.instance) throw new ModelLoadFailed(name, version, reasonOf(model, record), model.serving?.version);
          model.pin = version;
        }
        await reconcile(model);
        const newest = newestFirst(model).find((r) => r.files !== undefined);
        if (version === undefined && newest && !newest.instance) {
          throw new ModelLoadFailed(name, newest.version, reasonOf(model, newest), model.serving?.version);
        }
        return statusOf(model);
      });
    },

    async unload(name, version) {
      if (control === 'none') throw new ModelControlDisabled();
      return catalogue.claimed(name, version === undefined ? 'unloading' : `unloading version ${version}`, async () => {
        const model = models.get(name);
        if (!model) throw new ModelNotFound(name);
        if (version === undefined) {
          model.unloaded = true;
          model.pin = undefined;
          settle(model);
        } else {
          const record = model.versions.get(version);
          if (!record) throw new ModelNotFound(name, version);
          record.unloaded = true;
          if (model.pin === version) model.pin = undefined;
          // What replaces it, if it served, is loaded before the switch.
          await reconcile(model);
        }
        return statusOf(model);
      });
    },

    activity: () => counters.activity(),

    async close() {
      closed = true;
      polling?.stop();
      // Called once the server has drained: whatever is still leased is closed too.
      for (const model of models.values()) model.serving = undefined;
      await life.closeAll(models.values());
    },
  };
}
