/**
 * The models the service serves, by name and version, as Triton lays a model repository out:
 * `<name>/<version>/manifest.json` plus the ONNX file the manifest names, versions being positive
 * integers. `/upload` serves the default model (`DEFAULT_MODEL`); the Open Inference Protocol
 * routes by name and version.
 *
 * Every request leases the version it runs on ({@link ModelRepository.acquire}) and releases the
 * lease once its answer is computed. A version that is being replaced keeps serving the requests
 * that started on it, and is closed only when its last lease is released: a swap never fails a
 * request in flight.
 *
 * ```ts
 * const lease = repository.acquire(repository.defaultModel);   // newest READY version
 * try {
 *   const result = await lease.model.classifier.classify(image, header);
 * } finally {
 *   lease.release();
 * }
 * ```
 */
import type { Classifier } from '../model/classifier.js';
import type { Manifest } from '../model/manifest.js';

/**
 * A version's state, as Triton's repository index names them: `LOADING` (its session is being
 * created, checked and warmed up), `READY` (it serves), `UNLOADING` (no new request reaches it;
 * the ones in flight finish), `UNAVAILABLE` (not loaded: refused, failed, or unloaded; `reason` says why).
 */
export type VersionState = 'LOADING' | 'READY' | 'UNLOADING' | 'UNAVAILABLE';

/** One loaded version of a model. */
export interface ServedModel {
  /** The model's name in the repository (its folder), e.g. `catdog`: the protocol's `model_name`. */
  readonly name: string;
  /** The version, a positive integer written in decimal: the protocol's `model_version`. */
  readonly version: string;
  readonly manifest: Manifest;
  readonly classifier: Classifier;
}

/** A claim on a served version: it stays loaded until every lease on it is released. */
export interface Lease {
  readonly model: ServedModel;
  /** Gives the claim up; calling it again does nothing. */
  release(): void;
}

/** One line of the repository index (Triton's model repository extension). */
export interface IndexEntry {
  readonly name: string;
  readonly version: string;
  readonly state: VersionState;
  /** Why the version is in this state; empty when there is nothing to say (READY). */
  readonly reason: string;
}

/**
 * The serving side of the default model, for readiness: `ok` while a READY version can run,
 * `loading` before its first version is ready, `recovering` while a crashed inference worker of
 * the serving version is replaced, `unavailable` when it has no READY version, `failed` once the
 * serving version's engine gave up.
 */
export type RepositoryHealth = 'ok' | 'loading' | 'recovering' | 'unavailable' | 'failed';

/**
 * Traffic between versions of a model, set through the management API: a canary answers
 * `percent` % of the requests naming no version (each client always the same way), a shadow
 * classifies a sample of them beside the serving version without answering. `null`: none.
 */
export interface TrafficSetting {
  readonly canary: { readonly version: string; readonly percent: number } | null;
  readonly shadow: { readonly version: string } | null;
}

/** The traffic of a model as requests see it now: only candidates that are READY and do not serve already. */
export interface TrafficRoutes {
  /** The version requests naming none go to, unless routed to the canary. */
  readonly serving: string;
  readonly canary?: { readonly version: string; readonly percent: number };
  readonly shadow?: { readonly version: string };
}

/** A model's traffic setting and what applies of it now (`GET /v2/repository/models/{name}/traffic`). */
export interface TrafficStatus extends TrafficSetting {
  readonly name: string;
  /** The version requests naming none go to; absent when none is READY. */
  readonly serving?: string;
  /** The candidates that take part now (READY, and not the version serving): one that is not has dropped out. */
  readonly active: { readonly canary: boolean; readonly shadow: boolean };
}

/** The models served; see the module comment. */
export interface ModelRepository {
  /** The model `/upload` serves (`DEFAULT_MODEL`). */
  readonly defaultModel: string;
  /**
   * Leases the version of `name` to run a request on: `version` exactly when given, otherwise the
   * version the management API pinned, otherwise the newest READY one.
   *
   * @throws {@link ModelNotFound} when the repository has no such model, or no such version.
   * @throws {@link ModelUnavailable} when it has, but the version is not READY.
   */
  acquire(name: string, version?: string): Lease;
  /** Every version the repository knows of, loaded or not, with its state. */
  index(): readonly IndexEntry[];
  /** The READY versions of `name`, newest first; `[]` for a model the repository does not have. */
  readyVersions(name: string): readonly string[];
  /**
   * The canary and shadow of `name` that apply now, for a request naming no version; `undefined`
   * when it has none (or no version serving). A repository without traffic control omits it.
   */
  routes?(name: string): TrafficRoutes | undefined;
  /** Every version loaded now (READY or UNLOADING), for the metrics. */
  loaded(): readonly ServedModel[];
  /** See {@link RepositoryHealth}. */
  health(): RepositoryHealth;
  /** Resolves with the reason when the default model can no longer run (the process should exit). */
  readonly failed: Promise<Error>;
  /** Stops watching the repository and closes every loaded version. */
  close(): Promise<void>;
}

/**
 * What changes the versions served after start-up (`MODEL_CONTROL`): nothing (`none`), the
 * management API (`explicit`), or it and a rescan of the repository (`poll`).
 */
export type ModelControl = 'none' | 'explicit' | 'poll';

/** One model as the management API reports it after a load or an unload. */
export interface ModelStatus {
  readonly name: string;
  /** The version that answers requests naming none; absent when none is READY. */
  readonly serving?: string;
  /** The version the management API pinned, if any (then `serving`). */
  readonly pinned?: string;
  /** The model's lines of the index, oldest version first. */
  readonly versions: readonly IndexEntry[];
}

/** What the repository did since start-up, for the metrics. */
export interface RepositoryActivity {
  /** Version loads by model and outcome: `loaded`, or the code of the refusal (see `refusal.ts`). */
  readonly loads: ReadonlyMap<string, ReadonlyMap<string, number>>;
  /** Changes of the version that answers requests naming none, by model. */
  readonly switches: ReadonlyMap<string, number>;
}

/**
 * The management side of a repository (Triton's model repository extension): what
 * `POST /v2/repository/...` drives. A load or an unload of a model on which another one is in
 * progress is refused at once ({@link ModelBusy}), as is any with `MODEL_CONTROL=none`.
 */
export interface RepositoryManagement {
  readonly control: ModelControl;
  /**
   * The index as the disk has it now: with `explicit` (no polling) it reads the repository
   * first, so that versions published since are listed (UNAVAILABLE, not loaded).
   */
  refreshIndex(): Promise<readonly IndexEntry[]>;
  /**
   * Reads the model's folder again and loads its newest version beside the one serving (no
   * `version`: any pin is dropped, earlier unloads and refusals are forgotten), or loads
   * `version` and pins it: requests naming no version then go to it.
   *
   * @throws {@link ModelNotFound}, {@link ModelBusy}, {@link ModelControlDisabled}, or
   *   {@link ModelLoadFailed} when the version asked for (or the newest) was refused; what
   *   served before keeps serving.
   */
  load(name: string, version?: string): Promise<ModelStatus>;
  /**
   * Stops serving the model (no `version`), or one version of it: if that version served
   * requests naming none, the newest other version is loaded first, then switched to. Requests
   * in flight finish on the version they started on.
   */
  unload(name: string, version?: string): Promise<ModelStatus>;
  /** See {@link RepositoryActivity}. */
  activity(): RepositoryActivity;
  /**
   * The model's traffic setting and what applies of it now.
   *
   * @throws {@link ModelNotFound}
   */
  traffic(name: string): TrafficStatus;
  /**
   * Replaces the model's traffic setting: its candidates are loaded first (beside the version
   * serving, which stays), then the split applies at once. A candidate is loaded whatever the
   * version policy says; one that becomes unavailable (unloaded, refused, its folder removed)
   * drops out of the split, and an unload of it through the API clears it from the setting.
   *
   * @throws {@link ModelNotFound} (the model, or a candidate version), {@link ModelBusy},
   *   {@link ModelControlDisabled}, {@link ModelLoadFailed} (a candidate refused: nothing
   *   changed), {@link TrafficConflict} (the candidate is pinned, or no other version could serve).
   */
  setTraffic(name: string, setting: TrafficSetting): Promise<TrafficStatus>;
}
