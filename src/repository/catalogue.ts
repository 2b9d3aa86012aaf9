/**
 * The models a repository knows, as its scans find them: a record per model and version
 * (`records.ts`), created when a scan first finds it, its files updated by each scan, and
 * forgotten once its folder is gone and nothing of it is loaded, loading or finishing requests;
 * and the claims, one load or unload in progress per model, which refuse a second one (409,
 * {@link ModelBusy}) and keep the model's record until they end.
 */
import { ModelBusy } from '../errors.js';
import type { Logger } from '../log.js';
import type { Layout } from './layout.js';
import { DEFAULT_POLICY } from './policy.js';
import { indexOf, newVersion, type ModelRecord } from './records.js';
import type { IndexEntry } from './types.js';

/** The records of the models known and the claims on them; see the module comment. */
export class ModelCatalogue {
  readonly #log: Logger;
  readonly #models = new Map<string, ModelRecord>();
  /** Loads and unloads in progress: what each model is busy with, by name. */
  readonly #operations = new Map<string, string>();

  /** `log` is the repository's: each model's record logs through a child with `model` bound. */
  constructor(log: Logger) {
    this.#log = log;
  }

  /** Every model known, by name. */
  get models(): ReadonlyMap<string, ModelRecord> {
    return this.#models;
  }

  /** Whether a load or an unload of `name` is in progress. */
  busy(name: string): boolean {
    return this.#operations.has(name);
  }

  /** Every version known, models by name, versions oldest first. */
  index(): IndexEntry[] {
    return [...this.#models.values()].sort((a, b) => (a.name < b.name ? -1 : 1)).flatMap(indexOf);
  }

  /** Records what a scan found (of `only`, or of every model): new versions, new files, removed folders. */
  apply(layout: Layout, only?: string): void {
    for (const [name, versions] of layout) {
      if (only !== undefined && name !== only) continue;
      const model = this.#record(name);
      for (const [version, files] of versions) {
        const record = model.versions.get(version);
        if (record) record.files = files;
        else model.versions.set(version, newVersion(version, files));
      }
    }
    for (const model of this.#models.values()) {
      if (only !== undefined && model.name !== only) continue;
      const onDisk = layout.get(model.name);
      for (const record of model.versions.values()) {
        if (onDisk?.has(record.version)) continue;
        record.files = undefined;
        if (model.pin === record.version) model.pin = undefined;
      }
      this.forget(model);
    }
  }

  /** Drops what is gone from disk and no longer loaded; a model left with nothing is forgotten. */
  forget(model: ModelRecord): void {
    for (const record of model.versions.values()) {
      if (record.files === undefined && !record.instance && !record.loading && record.draining.size === 0) {
        model.versions.delete(record.version);
      }
    }
    if (model.versions.size === 0 && !this.#operations.has(model.name)) this.#models.delete(model.name);
  }

  /**
   * Runs `task` with `name` marked busy with `doing` (what a 409 says), then forgets what the
   * task left with nothing.
   *
   * @throws {@link ModelBusy} (the promise rejects, `task` does not run) when `name` is busy already.
   */
  async claimed<T>(name: string, doing: string, task: () => Promise<T>): Promise<T> {
    const busy = this.#operations.get(name);
    if (busy !== undefined) throw new ModelBusy(name, busy);
    this.#operations.set(name, doing);
    try {
      return await task();
    } finally {
      this.#operations.delete(name);
      const model = this.#models.get(name);
      if (model) this.forget(model);
    }
  }

  #record(name: string): ModelRecord {
    let model = this.#models.get(name);
    if (!model) {
      model = {
        name,
        versions: new Map(),
        serving: undefined,
        pin: undefined,
        unloaded: false,
        policy: DEFAULT_POLICY,
        traffic: { canary: null, shadow: null },
        log: this.#log.child({ model: name }),
      };
      this.#models.set(name, model);
    }
    return model;
  }
}
