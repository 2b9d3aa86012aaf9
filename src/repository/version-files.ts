/**
 * Reading the files a version names (its manifest, its ONNX file, its golden examples) without
 * letting a manifest make the service read anything else, or read without bound:
 *
 * - the file must be inside its version folder as the manifest names it (`../../etc/passwd` and
 *   `/etc/shadow` are refused before the file system is asked anything about them), and inside
 *   the repository once symbolic links are resolved (a version may link to a large shared file of
 *   the repository, not to one elsewhere);
 * - it must be a regular file: a FIFO would block the load for ever, `/dev/zero` would never end;
 *   it is opened without blocking (`O_NONBLOCK`) and checked on the descriptor it is read from;
 * - its size is checked before reading against the caller's cap, and the read has a time limit.
 *
 * A refusal's reason names the file only as the manifest names it: nothing about files outside the
 * repository (whether they exist, their size, their hash) reaches the index or the logs.
 */
import { constants } from 'node:fs';
import { open, realpath } from 'node:fs/promises';
import path from 'node:path';
import { VersionRefused, type RefusalCode } from './refusal.js';

/** Where a version's files may be. */
export interface VersionFolder {
  /** The version's folder (`<repository>/<model>/<version>`, or a MODEL_MANIFEST's folder). */
  readonly dir: string;
  /** The repository's folder: where symbolic links may lead. */
  readonly root: string;
}

/** How much of a file may be read, and for how long. */
export interface ReadBounds {
  readonly maxBytes: number;
  readonly timeoutMs: number;
}

/** Bounds of a manifest: a few kilobytes of JSON. */
export const MANIFEST_BOUNDS: ReadBounds = Object.freeze({ maxBytes: 1024 * 1024, timeoutMs: 10_000 });
/** Bounds of a golden example: an image as an upload may be. */
export const GOLDEN_BOUNDS: ReadBounds = Object.freeze({ maxBytes: 16 * 1024 * 1024, timeoutMs: 10_000 });
/** Time given to reading a model file, of whatever size its cap allows. */
export const MODEL_READ_TIMEOUT_MS = 120_000;

/** Whether `file` (absolute) is `dir` itself or below it. */
function isWithin(dir: string, file: string): boolean {
  const relative = path.relative(dir, file);
  return relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative);
}

/** How a file that cannot be read at all is refused: its code, and what to add to the reason. */
export interface Unreadable {
  readonly code: RefusalCode;
  /** E.g. `; run "make model"`. */
  readonly hint?: string;
}

/**
 * Reads `file` (an absolute path, as the manifest resolved it), which reasons call `what` (e.g.
 * `manifest.json`, `model file`, `golden example golden/cat.png`).
 *
 * @throws {@link VersionRefused} `file-refused` when the file is outside the version folder, leads
 *   outside the repository, is not a regular file, is over `bounds.maxBytes` or takes longer than
 *   `bounds.timeoutMs`; `unreadable.code` when it cannot be read at all (it does not exist).
 */
export async function readVersionFile(
  folder: VersionFolder,
  file: string,
  what: string,
  bounds: ReadBounds,
  unreadable: Unreadable = { code: 'load-error' },
): Promise<Buffer> {
  if (!isWithin(folder.dir, file)) {
    throw new VersionRefused('file-refused', `${what} "${path.relative(folder.dir, file)}" is outside the version folder`);
  }
  const refused = (why: string): VersionRefused => new VersionRefused('file-refused', `${what} ${why}`);
  const name = path.relative(folder.dir, file);
  const cannotRead = (err: unknown): VersionRefused =>
    new VersionRefused(unreadable.code, `${what.includes(name) ? what : `${what} "${name}"`} cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})${unreadable.hint ?? ''}`, { cause: err });
  let real: string;
  try {
    real = await realpath(file);
  } catch (err) {
    throw cannotRead(err);
  }
  if (!isWithin(await realpath(folder.root), real)) throw refused('is a symbolic link that leads outside the repository');

  const deadline = AbortSignal.timeout(bounds.timeoutMs);
  let handle;
  try {
    // Not blocking: opening a FIFO for reading would wait for a writer.
    handle = await open(real, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    throw cannotRead(err);
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw refused('is not a regular file');
    if (info.size > bounds.maxBytes) throw refused(`is ${info.size} bytes, over the limit of ${bounds.maxBytes}`);
    // Read what the size said, and one byte more to see a file that grew meanwhile.
    const bytes = Buffer.alloc(info.size + 1);
    let filled = 0;
    while (filled < bytes.length) {
      if (deadline.aborted) throw refused(`took longer than ${bounds.timeoutMs} ms to read`);
      const { bytesRead } = await handle.read(bytes, filled, bytes.length - filled, filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    if (filled > info.size) throw refused('changed while it was read');
    return bytes.subarray(0, filled);
  } finally {
    await handle.close();
  }
}
