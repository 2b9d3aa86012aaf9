/**
 * What a model repository holds on disk, read without loading anything: model folders, their
 * version folders, and a fingerprint of each version's files, so that a version whose files
 * change (a copy still in progress) is retried, and one whose files do not is not reloaded.
 *
 * ```text
 * MODEL_REPOSITORY/
 *   catdog/                  a model: a folder named like DEFAULT_MODEL
 *     1/manifest.json        a version: a folder named by a positive integer
 *     1/model.onnx           the files its manifest names
 *     2/…
 *     .3.partial/            anything else (hidden, not a number) is ignored: write aside, then rename
 * ```
 */
import { createHash } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';

/** One version folder as found on disk. */
export interface VersionFiles {
  /** `<version folder>/manifest.json` (which may not exist yet). */
  readonly manifestPath: string;
  /** The repository's folder: where the version's files (symbolic links resolved) must stay. */
  readonly root: string;
  /** Changes whenever a file of the version is added, removed, resized or rewritten. */
  readonly fingerprint: string;
}

/** Models by name, each with its versions by number (in decimal, as in URLs). */
export type Layout = ReadonlyMap<string, ReadonlyMap<string, VersionFiles>>;

/** Names of models (folders of the repository, `DEFAULT_MODEL`): what a URL path segment and a metric label can carry. */
export const MODEL_NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$';
const modelName = new RegExp(MODEL_NAME_PATTERN);
/** Names of version folders: positive integers, small enough to compare as numbers. */
const versionName = /^[1-9][0-9]{0,14}$/;
/** Bounds of the walk of one version folder (a repository is not a place for deep trees). */
const MAX_DEPTH = 4;
const MAX_FILES = 1_000;

/** Orders versions as numbers: `2` before `10`. */
export function compareVersions(a: string, b: string): number {
  return Number(a) - Number(b);
}

/**
 * Reads the layout of the repository at `root`.
 *
 * @throws when `root` or a model folder cannot be listed (a version folder that disappears
 *   during the scan is left out).
 */
export async function scanRepository(root: string): Promise<Layout> {
  const layout = new Map<string, Map<string, VersionFiles>>();
  for (const model of await readdir(root, { withFileTypes: true })) {
    if (!model.isDirectory() || !modelName.test(model.name)) continue;
    const modelDir = path.join(root, model.name);
    const versions = new Map<string, VersionFiles>();
    for (const version of await readdir(modelDir, { withFileTypes: true })) {
      if (!version.isDirectory() || !versionName.test(version.name)) continue;
      const dir = path.join(modelDir, version.name);
      const fingerprint = await fingerprintFolder(dir).catch((err: unknown) => {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw err;
      });
      if (fingerprint !== undefined) versions.set(version.name, { manifestPath: path.join(dir, 'manifest.json'), root, fingerprint });
    }
    layout.set(model.name, versions);
  }
  return layout;
}

/** The layout of one manifest served as version 1 of `name` (`MODEL_MANIFEST`). */
export async function manifestLayout(name: string, manifestPath: string): Promise<Layout> {
  const info = await stat(manifestPath, { bigint: true }).catch(() => undefined);
  const fingerprint = info ? `${info.size}:${info.mtimeNs}` : 'missing';
  return new Map([[name, new Map([['1', { manifestPath, root: path.dirname(manifestPath), fingerprint }]])]]);
}

/** Hash of the relative path, size and modification time of every file under `dir`. */
async function fingerprintFolder(dir: string): Promise<string> {
  const hash = createHash('sha256');
  let files = 0;
  const walk = async (sub: string, depth: number): Promise<void> => {
    const entries = await readdir(path.join(dir, sub), { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const relative = path.join(sub, entry.name);
      // Symbolic links are followed: a version may link to a large shared file.
      const info = await stat(path.join(dir, relative), { bigint: true }).catch(() => undefined);
      if (!info) {
        hash.update(`${relative}\0missing\n`);
      } else if (info.isDirectory()) {
        if (depth < MAX_DEPTH) await walk(relative, depth + 1);
      } else if (++files <= MAX_FILES) {
        hash.update(`${relative}\0${info.size}\0${info.mtimeNs}\n`);
      }
    }
  };
  await walk('', 0);
  return hash.digest('hex').slice(0, 16);
}
