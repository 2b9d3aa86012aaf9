/**
 * The repository's bookkeeping, as plain records: what is known of each version (its files,
 * its loaded instance, instances still finishing requests, why it was refused or unloaded) and
 * of each model (the version serving, a pin, an unload). Pure functions derive from them the
 * index line of a version, a model's status and why it has no version serving, and which
 * versions a model should have loaded.
 *
 * Which versions are loaded: the newest version that is not refused nor unloaded, and the
 * pinned one if any. The version serving requests that name none is the pinned one, or else
 * that newest one.
 */
import type { Logger } from '../log.js';
import { compareVersions, type VersionFiles } from './layout.js';
import type { RefusalCode } from './refusal.js';
import type { IndexEntry, ModelStatus, ServedModel, VersionState } from './types.js';

/** One load of a version: it stays until retired and every lease on it is released. */
export interface Instance {
  readonly served: ServedModel;
  leases: number;
  /** No new request reaches it; it closes once its leases are released. */
  retired: boolean;
  /** Its classifier is being (or was) closed. */
  closing: boolean;
}

/** Why a version was refused, and the files it was refused with: other files are tried again. */
export interface Refusal {
  readonly code: RefusalCode;
  /** In words, without file system paths: what the index and the API say. */
  readonly reason: string;
  /** With the paths involved: what the log and a failed start-up say. */
  readonly detail: string;
  readonly fingerprint: string | undefined;
}

/** What is known of one version. */
export interface VersionRecord {
  readonly version: string;
  /** Its files as last scanned; `undefined` once its folder is gone. */
  files: VersionFiles | undefined;
  /** The instance that serves (READY). */
  instance: Instance | undefined;
  /** Retired instances still finishing requests (UNLOADING). */
  readonly draining: Set<Instance>;
  /** Being loaded now (LOADING). */
  loading: boolean;
  refused: Refusal | undefined;
  /** Unloaded through the management API: not loaded again until a load names it or its model. */
  unloaded: boolean;
}

/** What is known of one model. */
export interface ModelRecord {
  readonly name: string;
  readonly versions: Map<string, VersionRecord>;
  /** The version requests naming none go to. */
  serving: VersionRecord | undefined;
  /** Pinned through the management API. */
  pin: string | undefined;
  /** Unloaded as a whole through the management API. */
  unloaded: boolean;
  /** Logs with `model` bound. */
  readonly log: Logger;
}

/** A new version record. */
export function newVersion(version: string, files: VersionFiles | undefined): VersionRecord {
  return { version, files, instance: undefined, draining: new Set(), loading: false, refused: undefined, unloaded: false };
}

/** Versions of `model`, newest first. */
export function newestFirst(model: ModelRecord): VersionRecord[] {
  return [...model.versions.values()].sort((a, b) => compareVersions(b.version, a.version));
}

/** Whether `record` may serve: on disk, not unloaded, and not refused with the files it has now. */
function eligible(model: ModelRecord, record: VersionRecord): boolean {
  if (model.unloaded || record.unloaded || record.files === undefined) return false;
  if (record.instance) return true;
  return record.refused === undefined || record.refused.fingerprint !== record.files.fingerprint;
}

/** The versions `model` should have loaded: the pinned one (it serves), and the newest eligible one. */
export function wanted(model: ModelRecord): { readonly primary: VersionRecord | undefined; readonly newest: VersionRecord | undefined } {
  const newest = newestFirst(model).find((record) => eligible(model, record));
  const pinned = model.pin === undefined ? undefined : model.versions.get(model.pin);
  const primary = pinned && eligible(model, pinned) ? pinned : newest;
  return { primary, newest };
}

/** The first version `model` wants that is not loaded, if any: what to load before it settles. */
export function missingOf(model: ModelRecord): VersionRecord | undefined {
  const { primary, newest } = wanted(model);
  return [primary, newest].find((record) => record !== undefined && !record.instance);
}

/** The state of `record`, as the index reports it. */
function stateOf(record: VersionRecord): VersionState {
  if (record.loading) return 'LOADING';
  if (record.instance) return 'READY';
  if (record.draining.size > 0) return 'UNLOADING';
  return 'UNAVAILABLE';
}

/** Why `record` is not READY, in words; empty when it is. */
export function reasonOf(model: ModelRecord, record: VersionRecord): string {
  switch (stateOf(record)) {
    case 'READY':
    case 'LOADING':
      return '';
    case 'UNLOADING':
      return [...record.draining].some((instance) => instance.leases > 0) ? 'finishing the requests in flight' : 'closing';
    case 'UNAVAILABLE':
      if (model.unloaded || record.unloaded) return 'unloaded';
      if (record.files === undefined) return 'folder removed';
      if (record.refused) return record.refused.reason;
      return model.serving ? `not loaded: version ${model.serving.version} serves` : 'not loaded';
  }
}

/** The index lines of `model`, oldest version first. */
export function indexOf(model: ModelRecord): IndexEntry[] {
  return newestFirst(model)
    .reverse()
    .map((record) => ({ name: model.name, version: record.version, state: stateOf(record), reason: reasonOf(model, record) }));
}

/** What the management API reports of `model` after a load or an unload. */
export function statusOf(model: ModelRecord): ModelStatus {
  return {
    name: model.name,
    ...(model.serving ? { serving: model.serving.version } : {}),
    ...(model.pin === undefined ? {} : { pinned: model.pin }),
    versions: indexOf(model),
  };
}

/** Why `model` has no version serving, for a 503. */
export function unavailableReason(model: ModelRecord): string {
  if (model.unloaded) return 'unloaded';
  const records = newestFirst(model);
  if (records.some((r) => r.loading)) return 'a version is loading';
  const newest = records[0];
  return newest ? `no version is ready (version ${newest.version}: ${reasonOf(model, newest)})` : 'no version';
}
