/**
 * The repository's manager: it applies each scan of the disk to the models known
 * (`catalogue.ts`), decides which versions each model has loaded (`records.ts`'s `wanted`) and
 * which one serves, and runs start-up, the poll and the management API (load, unload, the index
 * read again). Each version's own life, from its load to its close, is `version-life.ts`'s.
 *
 * Invariants:
 * - one version loads at a time, across models: at most one extra engine is being created;
 * - one load or unload at a time per model: a second one is refused (409, `ModelBusy`, see
 *   `catalogue.ts`), and the poll leaves a model alone while one is in progress;
 * - the swap is synchronous: a model switches only once every version it wants is loaded
 *   (`#settle`), so no request finds it without a version;
 * - a refused version keeps what served serving.
 */
import { ModelControlDisabled, ModelLoadFailed, ModelNotFound } from '../errors.js';
import type { Logger } from '../log.js';
import { ActivityCounters } from './activity.js';
import { ModelCatalogue } from './catalogue.js';
import type { Layout } from './layout.js';
import type { VersionLoader } from './load-version.js';
import { startPolling, type Polling } from './poll.js';
import { missingOf, newestFirst, reasonOf, statusOf, wanted, type ModelRecord, type VersionRecord } from './records.js';
import type { IndexEntry, ModelControl, ModelStatus, RepositoryActivity } from './types.js';
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

/** Manages the models and versions of a repository; see the module comment. */
export class RepositoryManager {
  /** Loads, leases, retires and closes the versions. */
  readonly life: VersionLife;
  /** Resolves with the reason when the default model can no longer run. */
  readonly failed: Promise<Error>;
  readonly #options: RepositoryOptions;
  readonly #catalogue: ModelCatalogue;
  readonly #counters = new ActivityCounters();
  #giveUp: (err: Error) => void = () => {};
  #started = false;
  #closed = false;
  #polling: Polling | undefined;
  #loadQueue: Promise<unknown> = Promise.resolve();

  constructor(options: RepositoryOptions) {
    this.#options = options;
    this.#catalogue = new ModelCatalogue(options.log);
    this.failed = new Promise<Error>((resolve) => (this.#giveUp = resolve));
    this.life = new VersionLife({
      load: (name, version, files) =>
        this.#oneAtATime(() => (this.#closed ? Promise.reject(new Error('the repository is closed')) : options.load(name, version, files))),
      isClosed: () => this.#closed,
      count: (name, outcome) => this.#counters.loaded(name, outcome),
      engineFailed: (model, record, err) => this.#engineFailed(model, record, err),
      instanceClosed: (model) => this.#catalogue.forget(model),
    });
  }

  /** Every model known, by name. */
  get models(): ReadonlyMap<string, ModelRecord> {
    return this.#catalogue.models;
  }

  /** Whether the first scan and its loads are done (then an unknown model does not exist). */
  get started(): boolean {
    return this.#started;
  }

  /** Every version known, models by name, versions oldest first. */
  index(): IndexEntry[] {
    return this.#catalogue.index();
  }

  /** Scans, loads each model's wanted versions (the default model first), then polls with `poll`. */
  async start(): Promise<void> {
    const { defaultModel, control } = this.#options;
    this.#catalogue.apply(await this.#options.scan());
    const order = [...this.#catalogue.models.keys()].sort((a, b) => Number(b === defaultModel) - Number(a === defaultModel) || (a < b ? -1 : 1));
    for (const name of order) {
      const model = this.#catalogue.models.get(name);
      if (!model) continue;
      await this.#catalogue.claimed(name, 'loading', () => this.#reconcile(model));
    }
    this.#started = true;
    const model = this.#catalogue.models.get(defaultModel);
    if (!model?.serving) {
      const reasons = model ? newestFirst(model).map((r) => `version ${r.version}: ${r.refused?.reason ?? reasonOf(model, r)}`) : [];
      throw new Error(`model "${defaultModel}" has no version that can serve${reasons.length ? `: ${reasons.join('; ')}` : ' (no such model folder, or no version folder in it)'}`);
    }
    if (control === 'poll') this.#polling = startPolling(() => this.#rescan(), this.#options.pollIntervalMs ?? 5_000);
  }

  /** The index, after a scan unless the poll keeps it current. */
  async refreshIndex(): Promise<IndexEntry[]> {
    if (this.#options.control !== 'poll') {
      try {
        this.#catalogue.apply(await this.#options.scan());
      } catch (err) {
        this.#options.log.warn({ err }, 'model repository scan failed');
      }
    }
    return this.index();
  }

  /** The management API's load; see `RepositoryManagement.load`. */
  async load(name: string, version: string | undefined): Promise<ModelStatus> {
    if (this.#options.control === 'none') throw new ModelControlDisabled();
    return this.#catalogue.claimed(name, version === undefined ? 'loading its newest version' : `loading version ${version}`, async () => {
      this.#catalogue.apply(await this.#options.scan(), name);
      const model = this.#catalogue.models.get(name);
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
          await this.life.load(model, record);
        }
        if (!record.instance) throw new ModelLoadFailed(name, version, reasonOf(model, record), model.serving?.version);
        model.pin = version;
      }
      await this.#reconcile(model);
      const newest = newestFirst(model).find((r) => r.files !== undefined);
      if (version === undefined && newest && !newest.instance) {
        throw new ModelLoadFailed(name, newest.version, reasonOf(model, newest), model.serving?.version);
      }
      return statusOf(model);
    });
  }

  /** The management API's unload; see `RepositoryManagement.unload`. */
  async unload(name: string, version: string | undefined): Promise<ModelStatus> {
    if (this.#options.control === 'none') throw new ModelControlDisabled();
    return this.#catalogue.claimed(name, version === undefined ? 'unloading' : `unloading version ${version}`, async () => {
      const model = this.#catalogue.models.get(name);
      if (!model) throw new ModelNotFound(name);
      if (version === undefined) {
        model.unloaded = true;
        model.pin = undefined;
        this.#settle(model);
      } else {
        const record = model.versions.get(version);
        if (!record) throw new ModelNotFound(name, version);
        record.unloaded = true;
        if (model.pin === version) model.pin = undefined;
        // What replaces it, if it served, is loaded before the switch.
        await this.#reconcile(model);
      }
      return statusOf(model);
    });
  }

  /** Loads by outcome and switches, by model, since start-up. */
  activity(): RepositoryActivity {
    return this.#counters.activity();
  }

  /** Stops polling and closes every version, leased or not (the server has drained). */
  async close(): Promise<void> {
    this.#closed = true;
    this.#polling?.stop();
    for (const model of this.#catalogue.models.values()) model.serving = undefined;
    await this.life.closeAll(this.#catalogue.models.values());
  }

  /** Runs `task` once every load queued before it has finished, across models. */
  #oneAtATime<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#loadQueue.then(task);
    this.#loadQueue = run.catch(() => {});
    return run;
  }

  /** Loads what `model` is missing of the versions it wants, one at a time, then settles it. */
  async #reconcile(model: ModelRecord): Promise<void> {
    for (;;) {
      if (this.#closed) return;
      const missing = missingOf(model);
      if (!missing) break;
      // Refused, it is no longer wanted: the next pass picks the next candidate.
      await this.life.load(model, missing);
    }
    this.#settle(model);
  }

  /**
   * Switches `model` to the version that should serve and retires the loaded versions no longer
   * wanted. Synchronous, and called only when every wanted version is loaded: the swap is atomic.
   */
  #settle(model: ModelRecord): void {
    const { primary, newest } = wanted(model);
    const next = primary?.instance ? primary : undefined;
    if (next !== model.serving) this.#switchTo(model, next);
    for (const record of model.versions.values()) {
      if (record.instance && record !== primary && record !== newest) this.life.retire(model, record);
    }
    this.#catalogue.forget(model);
  }

  #switchTo(model: ModelRecord, next: VersionRecord | undefined): void {
    const previous = model.serving?.version;
    model.serving = next;
    this.#counters.switched(model.name);
    if (next) model.log.info({ version: next.version, previous, pinned: model.pin === next.version }, 'model version serving');
    else model.log.warn({ previous }, 'model has no version serving');
  }

  /** Inference workers that keep crashing: the process stops if the version serves the default model; otherwise it is refused. */
  #engineFailed(model: ModelRecord, record: VersionRecord, err: Error): void {
    if (model.name === this.#options.defaultModel && model.serving === record) {
      this.#giveUp(err);
      return;
    }
    this.life.refuseFailed(model, record, err);
    if (model.serving === record) this.#switchTo(model, undefined);
    void this.#rescanModel(model);
  }

  /** With `poll`: records the disk's layout, then brings each model that is not busy in line with it. */
  async #rescan(): Promise<void> {
    let layout;
    try {
      layout = await this.#options.scan();
    } catch (err) {
      this.#options.log.warn({ err }, 'model repository scan failed: what serves keeps serving');
      return;
    }
    this.#catalogue.apply(layout);
    for (const model of [...this.#catalogue.models.values()]) await this.#rescanModel(model);
  }

  async #rescanModel(model: ModelRecord): Promise<void> {
    if (this.#catalogue.busy(model.name) || this.#closed) return;
    const missing = missingOf(model);
    if (!missing) return this.#settle(model);
    await this.#catalogue.claimed(model.name, `loading version ${missing.version}`, () => this.#reconcile(model));
  }
}
