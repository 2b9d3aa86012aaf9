/** The benchmark's images: every picture in a folder, sorted by name, read once. */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

/** One image file, in memory. */
export interface BenchImage {
  readonly name: string;
  readonly bytes: Buffer;
  /** Its media type, for the multipart part header. */
  readonly type: string;
}

const types: Readonly<Record<string, string>> = {
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.gif': 'image/gif',
};

/** Reads the images of `dir`; throws when there is none. */
export async function loadImages(dir: string): Promise<BenchImage[]> {
  const names = (await readdir(dir)).filter((n) => path.extname(n).toLowerCase() in types).sort();
  if (names.length === 0) throw new Error(`no images in ${dir}`);
  return Promise.all(
    names.map(async (name) => ({
      name,
      bytes: await readFile(path.join(dir, name)),
      type: types[path.extname(name).toLowerCase()]!,
    })),
  );
}
