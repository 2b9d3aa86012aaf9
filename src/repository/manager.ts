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
import { ModelControlDisabled, ModelLoadFailed, ModelNotFound, TrafficConflict } from '../errors.js';
import type { Logger } from '../log.js';
import { ActivityCounters } from './activity.js';
import { ModelCatalogue } from './catalogue.js';
import type { Layout } from './layout.js';
import type { VersionLoader } from './load-version.js';
import { describePolicy, type VersionPolicy } from './policy.js';
import { startPolling, type Polling } from './poll.js';
import { candidatesOf, missingOf, newestFirst, reasonOf, statusOf, trafficStatusOf, wanted, type ModelRecord, type VersionRecord } from './records.js';
import type { IndexEntry, ModelControl, ModelStatus, RepositoryActivity, TrafficSetting, TrafficStatus } from './types.js';
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
  /** Reads a model's version policy (`policy.ts`'s `readPolicy`); default: every model has the default policy. */
  readonly readPolicy?: (name: string) => Promise<VersionPolicy>;
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
  /** The last problem logged with each model's config.json, so that a poll logs it once. */
  readonly #policyProblems = new Map<string, string>();

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

  /** Whether a load, an unload or a traffic change of `name` is in progress (start-up's loads included). */
  busy(name: string): boolean {
    return this.#catalogue.busy(name);
  }

  /** Every version known, models by name, versions oldest first. */
  index(): IndexEntry[] {
    return this.#catalogue.index();
  }

  /** Scans, loads each model's wanted versions (the default model first), then polls with `poll`. */
  async start(): Promise<void> {
    const { defaultModel, control } = this.#options;
    await this.#apply(await this.#options.scan());
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
        await this.#apply(await this.#options.scan());
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
      await this.#apply(await this.#options.scan(), name);
      const model = this.#catalogue.models.get(name);
      if (!model) throw new ModelNotFound(name);
      model.unloaded = false;
      if (version === undefined) {
        model.pin = undefined;
        // The newest is to serve: a canary or shadow of it (or of another) ends.
        this.#clearTraffic(model, undefined, 'a load of the newest version');
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
        // Pinned, it serves every request naming no version: its canary or shadow is over (promoted).
        this.#clearTraffic(model, version, `version ${version} pinned`);
      }
      await this.#reconcile(model);
      // The newest the policy lets serve: with `specific`, the newest it names.
      const { policy } = model;
      const newest = newestFirst(model).find((r) => r.files !== undefined && (policy.kind !== 'specific' || policy.versions.includes(r.version)));
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
        this.#clearTraffic(model, undefined, 'the model unloaded');
        this.#settle(model);
      } else {
        const record = model.versions.get(version);
        if (!record) throw new ModelNotFound(name, version);
        record.unloaded = true;
        if (model.pin === version) model.pin = undefined;
        // Rolled back: a canary or shadow of it ends.
        this.#clearTraffic(model, version, `version ${version} unloaded`);
        // What replaces it, if it served, is loaded before the switch.
        await this.#reconcile(model);
      }
      return statusOf(model);
    });
  }

  /** The management API's traffic; see `RepositoryManagement.traffic`. */
  traffic(name: string): TrafficStatus {
    const model = this.#catalogue.models.get(name);
    if (!model) throw new ModelNotFound(name);
    return trafficStatusOf(model);
  }

  /** The management API's traffic change; see `RepositoryManagement.setTraffic`. */
  async setTraffic(name: string, setting: TrafficSetting): Promise<TrafficStatus> {
    if (this.#options.control === 'none') throw new ModelControlDisabled();
    return this.#catalogue.claimed(name, 'changing its traffic', async () => {
      await this.#apply(await this.#options.scan(), name);
      const model = this.#catalogue.models.get(name);
      if (!model) throw new ModelNotFound(name);
      const candidates = [...candidatesOf(setting)];
      for (const version of candidates) {
        if (!model.versions.get(version)?.files) throw new ModelNotFound(name, version);
        if (model.pin === version) throw new TrafficConflict(name, `version ${version} is pinned: it already answers every request naming no version`);
      }
      if (model.unloaded) throw new TrafficConflict(name, 'the model is unloaded; load it first');
      for (const version of candidates) {
        const record = model.versions.get(version)!;
        record.unloaded = false;
        if (!record.instance) record.refused = undefined;
      }
      const { primary } = wanted(model, setting);
      if (candidates.length > 0 && (!primary || candidates.includes(primary.version))) {
        throw new TrafficConflict(name, 'no other version of it can serve beside the candidate');
      }
      // Loaded first, as a pinned version is: a refused candidate changes nothing.
      for (const version of candidates) {
        const record = model.versions.get(version)!;
        if (record.instance) continue;
        await this.life.load(model, record);
        if (!record.instance) {
          this.#settle(model);
          throw new ModelLoadFailed(name, version, reasonOf(model, record), model.serving?.version);
        }
      }
      model.traffic = { canary: setting.canary ? { ...setting.canary } : null, shadow: setting.shadow ? { ...setting.shadow } : null };
      model.log.info({ canary: model.traffic.canary, shadow: model.traffic.shadow }, 'model traffic set');
      await this.#reconcile(model);
      return trafficStatusOf(model);
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
    const { primary, keep } = wanted(model);
    const next = primary?.instance ? primary : undefined;
    if (next !== model.serving) this.#switchTo(model, next);
    for (const record of model.versions.values()) {
      if (record.instance && !keep.includes(record)) this.life.retire(model, record);
    }
    this.#catalogue.forget(model);
  }

  /** Ends the canary and the shadow of `model` that name `version` (every one without), saying why. */
  #clearTraffic(model: ModelRecord, version: string | undefined, why: string): void {
    const { canary, shadow } = model.traffic;
    const ends = (candidate: { readonly version: string } | null): boolean => candidate !== null && (version === undefined || candidate.version === version);
    if (!ends(canary) && !ends(shadow)) return;
    model.traffic = { canary: ends(canary) ? null : canary, shadow: ends(shadow) ? null : shadow };
    model.log.info({ canary: model.traffic.canary, shadow: model.traffic.shadow, why }, 'model traffic set');
  }

  /** Records a scan of the disk (of `only`, or of every model) and reads the models' version policies. */
  async #apply(layout: Parameters<ModelCatalogue['apply']>[0], only?: string): Promise<void> {
    this.#catalogue.apply(layout, only);
    const readPolicy = this.#options.readPolicy;
    if (!readPolicy) return;
    for (const model of this.#catalogue.models.values()) {
      if (only !== undefined && model.name !== only) continue;
      try {
        const policy = await readPolicy(model.name);
        if (JSON.stringify(policy) !== JSON.stringify(model.policy)) model.log.info({ policy: describePolicy(policy) }, 'model version policy');
        model.policy = policy;
        this.#policyProblems.delete(model.name);
      } catch (err) {
        // What was loaded stays loaded: a config.json being edited must not unload a version.
        const reason = (err as Error).message;
        if (this.#policyProblems.get(model.name) !== reason) model.log.warn({ reason, policy: describePolicy(model.policy) }, 'model config.json refused: its version policy is unchanged');
        this.#policyProblems.set(model.name, reason);
      }
    }
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
    await this.#apply(layout);
    for (const model of [...this.#catalogue.models.values()]) await this.#rescanModel(model);
  }

  async #rescanModel(model: ModelRecord): Promise<void> {
    if (this.#catalogue.busy(model.name) || this.#closed) return;
    const missing = missingOf(model);
    if (!missing) return this.#settle(model);
    await this.#catalogue.claimed(model.name, `loading version ${missing.version}`, () => this.#reconcile(model));
  }
}
