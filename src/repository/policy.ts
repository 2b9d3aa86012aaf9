/**
 * A model's version policy: which of its versions stay loaded, as Triton's `version_policy`.
 * It is read from the model's folder, `<model>/config.json`, in the JSON form of Triton's model
 * configuration (only `version_policy` is read; other members are ignored, as this service has
 * no other per-model setting):
 *
 * ```json
 * {"version_policy": {"latest": {"num_versions": 2}}}     the two newest versions
 * {"version_policy": {"all": {}}}                         every version
 * {"version_policy": {"specific": {"versions": [1, 3]}}}  versions 1 and 3
 * ```
 *
 * Without the file (or without `version_policy`) the policy is this service's default: the
 * version serving, the one before it (a rollback is then instant) and the newest. Whatever the
 * policy, the pinned version and any canary or shadow candidate are loaded too (`records.ts`).
 */
import path from 'node:path';
import { MANIFEST_BOUNDS, readVersionFile } from './version-files.js';

/** Which versions of a model stay loaded; see the module comment. */
export type VersionPolicy =
  | { readonly kind: 'default' }
  | { readonly kind: 'latest'; readonly count: number }
  | { readonly kind: 'all' }
  | { readonly kind: 'specific'; readonly versions: readonly string[] };

/** The policy of a model without `config.json`. */
export const DEFAULT_POLICY: VersionPolicy = Object.freeze({ kind: 'default' });

/** The file of a model folder that holds its policy. */
const POLICY_FILE = 'config.json';

/** A `config.json` that cannot be used; the message says why (without file system paths). */
export class PolicyInvalid extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'PolicyInvalid';
  }
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * The policy a model's `config.json` states.
 *
 * @throws {@link PolicyInvalid} when it is not JSON, or `version_policy` is not one of the three forms.
 */
export function parsePolicy(text: string): VersionPolicy {
  let config: unknown;
  try {
    config = JSON.parse(text);
  } catch {
    throw new PolicyInvalid(`${POLICY_FILE} is not JSON`);
  }
  if (!isObject(config)) throw new PolicyInvalid(`${POLICY_FILE} is not a JSON object`);
  const policy = config.version_policy;
  if (policy === undefined) return DEFAULT_POLICY;
  const forms = isObject(policy) ? Object.keys(policy) : [];
  if (!isObject(policy) || forms.length !== 1) {
    throw new PolicyInvalid('version_policy must have exactly one of "latest", "all", "specific"');
  }
  if (isObject(policy.all)) return { kind: 'all' };
  if (isObject(policy.latest)) {
    const count = Number(policy.latest.num_versions);
    if (!Number.isInteger(count) || count < 1 || count > 1_000) throw new PolicyInvalid('version_policy.latest.num_versions must be an integer from 1 to 1000');
    return { kind: 'latest', count };
  }
  if (isObject(policy.specific) && Array.isArray(policy.specific.versions)) {
    const versions = policy.specific.versions.map(String);
    if (versions.length === 0 || versions.some((v) => !/^[1-9][0-9]{0,14}$/.test(v))) {
      throw new PolicyInvalid('version_policy.specific.versions must be a non-empty list of positive integers');
    }
    return { kind: 'specific', versions: [...new Set(versions)] };
  }
  throw new PolicyInvalid('version_policy must be {"latest": {"num_versions": N}}, {"all": {}} or {"specific": {"versions": [...]}}');
}

/**
 * Reads the policy of the model folder `<root>/<name>`: {@link DEFAULT_POLICY} without a
 * `config.json`. The file is read as a manifest is (a regular file inside the repository, at most 1 MiB).
 *
 * @throws {@link PolicyInvalid} when the file is there but cannot be read or used.
 */
export async function readPolicy(root: string, name: string): Promise<VersionPolicy> {
  const dir = path.join(root, name);
  let bytes: Buffer;
  try {
    bytes = await readVersionFile({ dir, root }, path.join(dir, POLICY_FILE), POLICY_FILE, MANIFEST_BOUNDS);
  } catch (err) {
    if ((err as { cause?: NodeJS.ErrnoException }).cause?.code === 'ENOENT') return DEFAULT_POLICY;
    throw new PolicyInvalid((err as Error).message);
  }
  return parsePolicy(bytes.toString('utf8'));
}

/** The policy in words, for the index, the log and a 404's detail. */
export function describePolicy(policy: VersionPolicy): string {
  switch (policy.kind) {
    case 'default':
      return 'the default version policy (the version serving, the one before it and the newest)';
    case 'latest':
      return `version_policy latest ${policy.count}`;
    case 'all':
      return 'version_policy all';
    case 'specific':
      return `version_policy specific [${policy.versions.join(', ')}]`;
  }
}
