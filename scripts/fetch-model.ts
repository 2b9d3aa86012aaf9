/**
 * `make model`: obtains the default backbone weights and verifies their pinned SHA-256.
 *
 *   MODEL_SOURCE=<url or local path> tsx scripts/fetch-model.ts
 *
 * The weights are never committed: they come from the ONNX Model Zoo (default) or a local copy
 * such as ../shared/models/. A file already in place with the right hash is kept.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';

const FILE = 'mobilenetv2-12-int8.onnx';
const SHA256 = '83530ad811bc31d2b60a5599a21265a5057608c9b044b4ee758cc22f2309f54f';
const DEFAULT_SOURCE =
  'https://github.com/onnx/models/raw/main/validated/vision/classification/mobilenet/model/mobilenetv2-12-int8.onnx';

const target = path.resolve('resources/models', FILE);
const source = process.env.MODEL_SOURCE || DEFAULT_SOURCE;

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

async function existingIsValid(): Promise<boolean> {
  try {
    return sha256(await readFile(target)) === SHA256;
  } catch {
    return false;
  }
}

async function obtain(): Promise<Uint8Array> {
  if (/^https?:\/\//.test(source)) {
    const response = await fetch(source, { signal: AbortSignal.timeout(120_000) });
    if (!response.ok) throw new Error(`GET ${source}: HTTP ${response.status}`);
    return new Uint8Array(await response.arrayBuffer());
  }
  const local = source.startsWith('file://') ? new URL(source).pathname : path.resolve(source);
  return readFile(local);
}

async function main(): Promise<void> {
  await mkdir(path.dirname(target), { recursive: true });
  if (await existingIsValid()) {
    console.log(`${path.relative(process.cwd(), target)}: present, SHA-256 verified`);
    return;
  }
  const bytes = await obtain();
  const actual = sha256(bytes);
  if (actual !== SHA256) {
    throw new Error(`${source}: SHA-256 ${actual} does not match the pinned ${SHA256}`);
  }
  await writeFile(target + '.tmp', bytes);
  await rename(target + '.tmp', target);
  console.log(`${path.relative(process.cwd(), target)}: obtained from ${source}, SHA-256 verified`);
}

main().catch((err: unknown) => {
  console.error(`make model: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
