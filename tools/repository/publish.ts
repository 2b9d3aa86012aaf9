/**
 * Writes versions into a model repository (`<root>/<model>/<version>/`, see
 * src/repository/layout.ts) the way a running service with `MODEL_CONTROL=poll` can read them
 * safely: a new version is written whole into a hidden folder beside the others, which the
 * service ignores, and then renamed to its number in one step.
 */
import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** The files of a version, by path relative to its folder (`manifest.json`, `model.onnx`, `golden/cat.png`…). */
export type VersionContent = ReadonlyMap<string, Uint8Array | string>;

/** Version folders are positive integers; anything else is ignored by the service. */
const versionName = /^[1-9][0-9]{0,14}$/;

/** The versions of `model` in `root`, as numbers (none when its folder does not exist). */
export async function versionsOf(root: string, model: string): Promise<number[]> {
  const entries = await readdir(path.join(root, model), { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [];
    throw err;
  });
  return entries.filter((e) => e.isDirectory() && versionName.test(e.name)).map((e) => Number(e.name));
}

async function writeAll(dir: string, content: VersionContent): Promise<void> {
  for (const [file, bytes] of content) {
    const target = path.join(dir, file);
    await mkdir(path.dirname(target), { recursive: true });
    await writeFile(target, bytes);
  }
}

/**
 * Publishes `content` as the next version of `model` (one more than the largest, 1 for a new
 * model), never overwriting one: written into `.<pid>.partial/`, then renamed. Resolves with
 * the version and its folder.
 */
export async function publishNextVersion(root: string, model: string, content: VersionContent): Promise<{ version: number; dir: string }> {
  const modelDir = path.join(root, model);
  await mkdir(modelDir, { recursive: true });
  const staging = path.join(modelDir, `.${process.pid}.partial`);
  await rm(staging, { recursive: true, force: true });
  await writeAll(staging, content);
  try {
    // Another publisher may take a number between the listing and the rename: take the next one.
    for (let attempt = 0; attempt < 10; attempt++) {
      const version = Math.max(0, ...(await versionsOf(root, model))) + 1;
      const dir = path.join(modelDir, String(version));
      try {
        // Fails on a folder that has files (rename(2) replaces only an empty one).
        await rename(staging, dir);
      } catch (err) {
        if (['ENOTEMPTY', 'EEXIST'].includes((err as NodeJS.ErrnoException).code ?? '')) continue;
        throw err;
      }
      return { version, dir };
    }
    throw new Error(`cannot find a free version number for ${model} in ${root}`);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/**
 * Writes `content` into version `version` of `model`, in place, each file by a rename so that
 * no reader sees half a file (`make model` rebuilds version 1, byte for byte the same).
 */
export async function writeVersion(root: string, model: string, version: number, content: VersionContent): Promise<string> {
  const dir = path.join(root, model, String(version));
  for (const [file, bytes] of content) {
    const target = path.join(dir, file);
    await mkdir(path.dirname(target), { recursive: true });
    const partial = `${target}.${process.pid}.partial`;
    await writeFile(partial, bytes);
    await rename(partial, target);
  }
  return dir;
}
