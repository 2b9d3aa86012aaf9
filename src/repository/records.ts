/**
 * The repository's bookkeeping, as plain records: what is known of each version (its files,
 * its loaded instance, instances still finishing requests, why it was refused or unloaded) and
 * of each model (the version serving, a pin, an unload). Pure functions derive from them the
 * index line of a version, a model's status and why it has no version serving, and which
 * versions a model should have loaded.
 *
 * Which versions are loaded: the one serving, the versions the model's version policy keeps
 * (`policy.ts`; by default the one before the serving one and the newest), and any canary or
 * shadow candidate (`traffic`), among the versions that are not refused nor unloaded. The version
 * serving requests that name none is the pinned one, or else the newest that is not a candidate
 * (with `specific`, the newest the policy names).
 */
import type { Logger } from '../log.js';
import { compareVersions, type VersionFiles } from './layout.js';
import type { VersionPolicy } from './policy.js';
import type { RefusalCode } from './refusal.js';
import type { IndexEntry, ModelStatus, ServedModel, TrafficSetting, TrafficStatus, VersionState } from './types.js';

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
  /** Which versions stay loaded (`<model>/config.json`). */
  policy: VersionPolicy;
  /** Canary and shadow candidates, set through the management API. */
  traffic: TrafficSetting;
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

/** The versions of the canary and the shadow, if any. */
export function candidatesOf(traffic: TrafficSetting): Set<string> {
  return new Set([traffic.canary?.version, traffic.shadow?.version].filter((v): v is string => v !== undefined));
}

/**
 * The versions `model` should have loaded: `primary` serves requests naming none; `keep` is
 * every version to have loaded, `primary` first, then newest first.
 */
export function wanted(model: ModelRecord, traffic: TrafficSetting = model.traffic): { readonly primary: VersionRecord | undefined; readonly keep: readonly VersionRecord[] } {
  const eligibles = newestFirst(model).filter((record) => eligible(model, record));
  const candidates = candidatesOf(traffic);
  const { policy } = model;
  const pinned = model.pin === undefined ? undefined : eligibles.find((r) => r.version === model.pin);
  const named = policy.kind === 'specific' ? eligibles.filter((r) => policy.versions.includes(r.version)) : eligibles;
  const primary = pinned
    ?? named.find((r) => !candidates.has(r.version))
    ?? eligibles.find((r) => !candidates.has(r.version))
    ?? eligibles[0];
  const kept = new Set<VersionRecord>();
  if (primary) kept.add(primary);
  for (const record of eligibles) if (candidates.has(record.version)) kept.add(record);
  switch (policy.kind) {
    case 'all':
    case 'specific':
      for (const record of named) kept.add(record);
      break;
    case 'latest':
      for (const record of eligibles.slice(0, policy.count)) kept.add(record);
      break;
    case 'default': {
      // The one before the serving version: a rollback needs no load. And the newest, as a pin leaves it.
      const before = primary ? eligibles.find((r) => compareVersions(r.version, primary.version) < 0 && !candidates.has(r.version)) : undefined;
      if (before) kept.add(before);
      if (eligibles[0]) kept.add(eligibles[0]);
      break;
    }
  }
  const keep = [...kept].sort((a, b) => Number(b === primary) - Number(a === primary) || compareVersions(b.version, a.version));
  return { primary, keep };
}

/** The first version `model` wants that is not loaded, if any: what to load before it settles. */
export function missingOf(model: ModelRecord): VersionRecord | undefined {
  return wanted(model).keep.find((record) => !record.instance);
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

/** What applies now of `model`'s traffic setting. */
export function trafficStatusOf(model: ModelRecord): TrafficStatus {
  const { canary, shadow } = model.traffic;
  const serving = model.serving;
  const takesPart = (version: string | undefined): boolean =>
    version !== undefined && serving !== undefined && version !== serving.version && model.versions.get(version)?.instance !== undefined;
  return {
    name: model.name,
    ...(serving ? { serving: serving.version } : {}),
    canary,
    shadow,
    active: { canary: takesPart(canary?.version), shadow: takesPart(shadow?.version) },
  };
}