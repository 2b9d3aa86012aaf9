/**
 * The labelled captures as training photos (`make train`, issue 25): the capture database in
 * `CAPTURE_DIR` (src/capture/database.ts) read directly, read-only, with no service running or
 * while one writes it (WAL: a reader sees the last commit and never waits for the writer).
 *
 * A photo is an image (its SHA-256), not a capture: the same photo sent ten times and labelled
 * twice is one training photo, with the latest label given to any of its captures. Labels match
 * the head's labels in any case; a label the head does not have (a capture of another model) is
 * left out and counted, as is a capture whose image file is gone (removed by the store's limits
 * between the query and the read).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { DATABASE_FILE, imageFile, labelledCaptures, openForReading } from '../../src/capture/database.js';
import type { LabelledImage } from './labels.js';

/** A labelled photo of the captures. */
export interface CapturedPhoto extends LabelledImage {
  /** The image's SHA-256 (hex): what the held-out split and the de-duplication go by. */
  readonly sha256: string;
  /** The capture whose label is used (the latest labelled one of this image). */
  readonly id: string;
}

/** What the capture store holds for training. */
export interface CapturedPhotos {
  readonly dir: string;
  /** Labelled captures (rows), before they are grouped by image. */
  readonly labelledCaptures: number;
  /** One per distinct image with a usable label, in the order of their latest label. */
  readonly photos: readonly CapturedPhoto[];
  /** Photos left out: by a label the head does not have (`label → photos`), and those whose image file is gone. */
  readonly leftOut: { readonly byLabel: ReadonlyMap<string, number>; readonly missingImages: number };
}

/**
 * Reads the labelled photos of the capture store in `dir`; `undefined` when `dir` holds no
 * capture database (capture never ran there).
 *
 * @throws CaptureDatabaseError when the file there is not a capture database, or of a newer schema.
 */
export function readCapturedPhotos(dir: string, labels: readonly string[]): CapturedPhotos | undefined {
  if (!existsSync(path.join(dir, DATABASE_FILE))) return undefined;
  const db = openForReading(dir);
  let rows;
  try {
    rows = labelledCaptures(db);
  } finally {
    db.close();
  }
  // The latest label of each image: rows come oldest feedback first.
  const latest = new Map<string, (typeof rows)[number]>();
  for (const row of rows) {
    latest.delete(row.sha256);
    latest.set(row.sha256, row);
  }
  const lower = labels.map((l) => l.toLowerCase());
  const byLabel = new Map<string, number>();
  let missingImages = 0;
  const photos: CapturedPhoto[] = [];
  for (const row of latest.values()) {
    const label = lower.indexOf(row.label.toLowerCase());
    const file = imageFile(dir, row.sha256);
    if (label < 0) byLabel.set(row.label, (byLabel.get(row.label) ?? 0) + 1);
    else if (!existsSync(file)) missingImages++;
    else photos.push({ file, label, sha256: row.sha256, id: row.id });
  }
  return { dir, labelledCaptures: rows.length, photos, leftOut: { byLabel, missingImages } };
}
