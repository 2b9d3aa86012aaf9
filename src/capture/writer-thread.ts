/**
 * The capture writer: a worker thread that owns the capture database's one writing connection
 * and the image files, so that the service's event loop never waits for a disk. It
 *
 * - writes the captures it is sent, a batch per transaction: each image once (by SHA-256; the
 *   file first, written whole under a temporary name and renamed, then the rows), the rows that
 *   name it after;
 * - answers the store's requests (a capture, a list, a feedback) in order with the writes;
 * - keeps the store within `CAPTURE_MAX_AGE_DAYS` (checked every minute) and `CAPTURE_MAX_MIB`
 *   (checked after each batch): the oldest captures go first, then the images none names;
 * - when a write fails (a full disk, a read-only folder, a database it cannot write), stops
 *   writing for `retryMs` (30 s), drops what it is sent meanwhile and says so, then tries again;
 *   a database it cannot open is tried again at the same pace.
 *
 * At start-up it removes the image files no row names (a write cut between the file and its row,
 * a removal cut between the row and the file): the database says what is kept.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { DatabaseSync } from 'node:sqlite';
import { parentPort, workerData } from 'node:worker_threads';
import { imageMediaType } from '../model/image/format.js';
import { DATABASE_FILE, IMAGES_DIR, captureQueries, imageFile, openForWriting, type CaptureQueries, type CaptureRow, type ImageRow } from './database.js';
import type { FromWriter, StoreRequest, StoreTotals, ToWriter, WireCapture, WriterInit } from './protocol.js';

/** How often captures past `CAPTURE_MAX_AGE_DAYS` are looked for, in milliseconds. */
const AGE_CHECK_MS = 60_000;

const init = workerData as WriterInit;
const PAUSE_MS = init.retryMs;
const port = parentPort!;
const send = (message: FromWriter): void => port.postMessage(message);

let db: DatabaseSync | undefined;
let queries: CaptureQueries | undefined;
/** Why the database is not open, while it is not. */
let unopened: string | undefined;
/** Writing is paused until then (ms since the epoch) after a failure. */
let pausedUntil = 0;
/** Whether the last write failed (and no write succeeded since). */
let failing = false;
/** What the store holds: counted exactly at each prune and every minute, kept up by each write between. */
let current: StoreTotals = { captures: 0, images: 0, bytes: 0 };

/** A failure in words, without a stack: `ENOSPC: no space left on device, write`. */
function reasonOf(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown };
  const message = typeof e?.message === 'string' ? e.message : String(err);
  return typeof e?.code === 'string' && !message.startsWith(e.code) ? `${e.code}: ${message}` : message;
}

function totals(): StoreTotals {
  const t = queries!.totals();
  current = { captures: t.captures, images: t.images, bytes: t.imageBytes + queries!.databaseBytes() };
  return current;
}

/** Removes the image files no row names, and temporary files left by a cut write; returns how many. */
function sweep(): number {
  const known = queries!.imageHashes();
  const root = path.join(init.dir, IMAGES_DIR);
  let removed = 0;
  let folders: string[];
  try {
    folders = readdirSync(root);
  } catch {
    return 0;
  }
  for (const folder of folders) {
    let files: string[];
    try {
      files = readdirSync(path.join(root, folder));
    } catch {
      continue;
    }
    for (const file of files) {
      if (known.has(file)) continue;
      try {
        unlinkSync(path.join(root, folder, file));
        removed++;
      } catch {
        // Gone already, or not ours to remove: the next start tries again.
      }
    }
  }
  return removed;
}

function open(): void {
  try {
    mkdirSync(path.join(init.dir, IMAGES_DIR), { recursive: true });
    const opened = openForWriting(init.dir);
    db = opened.db;
    queries = captureQueries(db);
    unopened = undefined;
    const sweptFiles = sweep();
    prune();
    send({ kind: 'opened', migrated: opened.migrated, totals: totals(), sweptFiles });
  } catch (err) {
    db?.close();
    db = undefined;
    queries = undefined;
    unopened = `cannot open ${path.join(init.dir, DATABASE_FILE)}: ${reasonOf(err)}`;
    send({ kind: 'open-failed', reason: unopened, retryInMs: PAUSE_MS });
    setTimeout(open, PAUSE_MS).unref();
  }
}

/** Deletes the files of images the database no longer names. */
function unlinkImages(hashes: readonly string[]): void {
  for (const sha256 of hashes) rmSync(imageFile(init.dir, sha256), { force: true });
}

/** Brings the store within its age and size. */
function prune(): void {
  if (!queries) return;
  const before = Date.now() - init.maxAgeMs;
  // The database's own pages count against CAPTURE_MAX_MIB too; the images take the rest.
  const maxImageBytes = Math.max(0, init.maxBytes - queries.databaseBytes());
  // Down to 90 %: a store at its bound would otherwise prune at every batch.
  const target = current.bytes > init.maxBytes ? Math.floor(maxImageBytes * 0.9) : maxImageBytes;
  const { captures, images } = queries.prune(before, target);
  unlinkImages(images);
  if (captures > 0 || images.length > 0) send({ kind: 'pruned', captures, images: images.length, totals: totals() });
}

/** Stops writing for PAUSE_MS, then tells the service to send captures again (a probe). */
function pause(err: unknown): void {
  pausedUntil = Date.now() + PAUSE_MS;
  send({ kind: 'writing', writing: false, reason: reasonOf(err), again: failing, retryInMs: PAUSE_MS });
  failing = true;
  setTimeout(() => {
    pausedUntil = 0;
    send({ kind: 'writing', writing: true, retry: true });
  }, PAUSE_MS).unref();
}

/** Writes one batch: the new images' files, then every row in one transaction. */
function write(captures: readonly WireCapture[]): { stored: number; duplicates: number; dropped: number } {
  if (!queries || Date.now() < pausedUntil) return { stored: 0, duplicates: 0, dropped: captures.length };
  const images = new Map<string, ImageRow>();
  const rows: CaptureRow[] = [];
  const written: string[] = [];
  try {
    for (const capture of captures) {
      const sha256 = createHash('sha256').update(capture.image).digest('hex');
      if (!images.has(sha256) && !queries.hasImage(sha256)) {
        const file = imageFile(init.dir, sha256);
        mkdirSync(path.dirname(file), { recursive: true });
        const partial = `${file}.${process.pid}.tmp`;
        try {
          writeFileSync(partial, capture.image);
          renameSync(partial, file);
        } catch (err) {
          rmSync(partial, { force: true });
          throw err;
        }
        written.push(sha256);
        images.set(sha256, { sha256, bytes: capture.image.byteLength, mediaType: imageMediaType(capture.image) });
      }
      const { image: _image, ...row } = capture;
      rows.push({ ...row, sha256 });
    }
    const { duplicates } = queries.insert([...images.values()], rows);
    if (failing) {
      failing = false;
      send({ kind: 'writing', writing: true, retry: false });
    }
    const stored = rows.length - duplicates.length;
    let added = 0;
    for (const image of images.values()) added += image.bytes;
    current = { captures: current.captures + stored, images: current.images + images.size, bytes: current.bytes + added };
    if (current.bytes > init.maxBytes) prune();
    return { stored, duplicates: duplicates.length, dropped: 0 };
  } catch (err) {
    // The files written for rows that were not: removed now, or by the next start's sweep.
    unlinkImages(written.filter((sha256) => !queries?.hasImage(sha256)));
    pause(err);
    return { stored: 0, duplicates: 0, dropped: captures.length };
  }
}

function answer(request: StoreRequest): unknown {
  if (!queries) throw new Error(unopened ?? 'the capture database is not open');
  switch (request.op) {
    case 'get':
      return queries.get(request.id);
    case 'list':
      return queries.list(request.query);
    case 'feedback':
      return queries.feedback(request.id, request.label, request.subject, request.at);
  }
}

port.on('message', (message: ToWriter) => {
  switch (message.kind) {
    case 'capture': {
      const outcome = write(message.captures);
      send({ kind: 'written', bytes: message.bytes, ...outcome, totals: current });
      return;
    }
    case 'request': {
      try {
        send({ kind: 'reply', seq: message.seq, ok: true, value: answer(message.request) });
      } catch (err) {
        send({ kind: 'reply', seq: message.seq, ok: false, reason: reasonOf(err) });
      }
      return;
    }
    case 'close': {
      // Folds the WAL back into the database: a clean stop leaves one file.
      try {
        db?.close();
      } catch {
        // Closing is best effort: the WAL is replayed at the next open.
      }
      db = undefined;
      send({ kind: 'closed' });
      return;
    }
  }
});

setInterval(() => {
  try {
    prune();
    if (queries) send({ kind: 'totals', totals: totals() });
  } catch (err) {
    pause(err);
  }
}, AGE_CHECK_MS).unref();

open();
