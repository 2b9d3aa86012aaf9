/**
 * A version's life cycle, from its load to its close: loaded beside what serves, READY or
 * refused with a code and a reason; watched for an inference engine that gives up; leased by
 * the requests that run on it; retired (no new request reaches it) and closed once its last
 * lease is released. Which version serves, which to load and when to retire one is the
 * manager's decision (`manager.ts`); this module carries it out on the records (`records.ts`).
 *
 * Invariants:
 * - a refused version changes nothing but its own record: what served keeps serving;
 * - a loaded instance is the record's `instance` (READY) until retired, then in its `draining`
 *   set (UNLOADING) until closed;
 * - a retired instance is closed once, when its last lease is released (at once without one);
 * - a load that finishes after the repository closed is closed, never served.
 */
import type { VersionFiles } from './layout.js';
import type { Instance, ModelRecord, VersionRecord } from './records.js';
import { VersionRefused } from './refusal.js';
import type { Lease, ServedModel } from './types.js';

/** What a version's life cycle asks of the manager. */
export interface LifeHooks {
  /** Loads and checks a version's files: the `VersionLoader`, after any other load in progress. */
  readonly load: (name: string, version: string, files: VersionFiles) => Promise<ServedModel>;
  /** Whether the repository is closed (or closing). */
  readonly isClosed: () => boolean;
  /** Counts a version's outcome for the metrics: `loaded`, or the code of its refusal. */
  readonly count: (name: string, outcome: string) => void;
  /** The inference engine of a READY version (`record.instance`) gave up. */
  readonly engineFailed: (model: ModelRecord, record: VersionRecord, err: Error) => void;
  /** An instance of `model` was closed: records left with nothing may be forgotten. */
  readonly instanceClosed: (model: ModelRecord) => void;
}

/** Loads, watches, leases, retires and closes the versions of a repository; see the module comment. */
export class VersionLife {
  readonly #hooks: LifeHooks;
  /** Closes in progress, which {@link VersionLife.closeAll} waits for. */
  readonly #closing = new Set<Promise<void>>();

  constructor(hooks: LifeHooks) {
    this.#hooks = hooks;
  }

  /** Loads `record` beside what serves: READY, or refused with the reason. */
  async load(model: ModelRecord, record: VersionRecord): Promise<void> {
    const files = record.files;
    if (!files || record.instance) return;
    const hooks = this.#hooks;
    record.loading = true;
    const startedAt = performance.now();
    try {
      const served = await hooks.load(model.name, record.version, files);
      if (hooks.isClosed()) {
        await served.classifier.close();
        return;
      }
      const instance: Instance = { served, leases: 0, retired: false, closing: false };
      record.instance = instance;
      record.refused = undefined;
      hooks.count(model.name, 'loaded');
      model.log.info(
        { version: record.version, manifest: served.manifest.name, sha256: served.manifest.sha256, int8Weights: served.classifier.int8Weights, ms: Math.round(performance.now() - startedAt) },
        'model version loaded',
      );
      this.#watch(model, record, instance);
    } catch (err) {
      if (hooks.isClosed()) return;
      const refusal = err instanceof VersionRefused ? err : new VersionRefused('load-error', `unexpected error while loading: ${(err as Error).message}`, { cause: err });
      const detail = refusal.cause instanceof Error ? refusal.cause.message : refusal.message;
      record.refused = { code: refusal.code, reason: refusal.message, detail, fingerprint: files.fingerprint };
      hooks.count(model.name, refusal.code);
      model.log.warn({ version: record.version, code: refusal.code, reason: refusal.message, detail }, 'model version refused');
    } finally {
      record.loading = false;
    }
  }

  /** Refuses a READY version whose inference workers keep crashing, and retires it. */
  refuseFailed(model: ModelRecord, record: VersionRecord, err: Error): void {
    const reason = `its inference workers keep crashing (${err.message})`;
    record.refused = { code: 'engine-failed', reason, detail: reason, fingerprint: record.files?.fingerprint };
    this.#hooks.count(model.name, 'engine-failed');
    model.log.error({ version: record.version, err }, 'model version failed');
    this.retire(model, record);
  }

  /** A lease on `instance`, a loaded instance of `record`: a retired instance closes when its last lease is released. */
  lease(model: ModelRecord, record: VersionRecord, instance: Instance): Lease {
    instance.leases++;
    let released = false;
    return {
      model: instance.served,
      release: () => {
        if (released) return;
        released = true;
        instance.leases--;
        if (instance.retired && instance.leases === 0) this.#close(model, record, instance);
      },
    };
  }

  /** No new request reaches the version's instance; it closes once its last lease is released. */
  retire(model: ModelRecord, record: VersionRecord): void {
    const instance = record.instance;
    if (!instance) return;
    record.instance = undefined;
    instance.retired = true;
    record.draining.add(instance);
    model.log.info({ version: record.version, leases: instance.leases }, 'model version unloading');
    if (instance.leases === 0) this.#close(model, record, instance);
  }

  /**
   * Closes every instance of `models`, leased or not, and resolves once all are closed: called
   * when the repository closes, after the server has drained.
   */
  async closeAll(models: Iterable<ModelRecord>): Promise<void> {
    for (const model of models) {
      for (const record of model.versions.values()) {
        const instance = record.instance;
        if (instance) {
          record.instance = undefined;
          instance.retired = true;
          record.draining.add(instance);
        }
        for (const draining of record.draining) this.#close(model, record, draining);
      }
    }
    await Promise.all([...this.#closing]);
  }

  /** Reports a failure of the instance's engine unless it is retired or the repository closed. */
  #watch(model: ModelRecord, record: VersionRecord, instance: Instance): void {
    void instance.served.classifier.failed.then((err) => {
      if (instance.retired || this.#hooks.isClosed()) return;
      this.#hooks.engineFailed(model, record, err);
    });
  }

  #close(model: ModelRecord, record: VersionRecord, instance: Instance): void {
    if (instance.closing) return;
    instance.closing = true;
    const done = instance.served.classifier
      .close()
      .catch((err: unknown) => model.log.warn({ version: record.version, err }, 'closing a model version failed'))
      .then(() => {
        record.draining.delete(instance);
        this.#closing.delete(done);
        model.log.info({ version: record.version }, 'model version closed');
        this.#hooks.instanceClosed(model);
      });
    this.#closing.add(done);
  }
}
