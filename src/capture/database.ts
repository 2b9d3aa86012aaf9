/**
 * The capture database: one SQLite file (`captures.db` in `CAPTURE_DIR`), through Node's own
 * `node:sqlite` (no native build). Its schema and every query the service and `make train` run
 * on it live here.
 *
 * - `images`: one row per distinct image (by SHA-256); the bytes are a file beside the database
 *   (`images/<2 hex>/<sha256>`, {@link imageFile}).
 * - `captures`: one row per captured answer: its inference id, when, which operation, model and
 *   version, the probabilities and the label answered (with the least-confidence, margin and
 *   entropy they give, indexed for `GET /captures?order=`), the time it took, the token's
 *   subject, the request's id, and its image. `seq` is the order of arrival: the oldest go first.
 * - `feedback`: the latest label given to a capture (one row per capture: the latest wins).
 * - `schema_migrations`: the migrations applied, by version ({@link migrate}).
 *
 * WAL journal with `synchronous=NORMAL`: a commit is in the WAL file when it returns, so that a
 * killed process (`kill -9`) loses nothing committed and readers (the service's, `make train`'s)
 * never wait for the writer; only a power cut can take the last commits (the WAL is synced at
 * checkpoints). Writes go through one connection, the capture writer's (`writer-thread.ts`).
 */
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import type { CaptureSource } from '../inference/capture.js';
import type { WireCapture } from './protocol.js';
import type { CaptureOrder, CaptureQuery, CaptureView, FeedbackOutcome } from './types.js';

/** The database's file name in `CAPTURE_DIR`. */
export const DATABASE_FILE = 'captures.db';

/** The folder of the image files in `CAPTURE_DIR`. */
export const IMAGES_DIR = 'images';

/** The file of the image `sha256` (hex) in `dir`. */
export function imageFile(dir: string, sha256: string): string {
  return path.join(dir, IMAGES_DIR, sha256.slice(0, 2), sha256);
}

/** One step of the schema; applied once, in order, each in its own transaction. */
interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/** The schema's history. Append, never edit: a database applied the ones before. */
const migrations: readonly Migration[] = [
  {
    version: 1,
    name: 'images, captures, feedback',
    sql: `
      CREATE TABLE images (
        sha256 TEXT PRIMARY KEY,
        bytes INTEGER NOT NULL,
        media_type TEXT,
        stored_at INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE TABLE captures (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        at INTEGER NOT NULL,
        source TEXT NOT NULL,
        model TEXT NOT NULL,
        model_name TEXT NOT NULL,
        version TEXT NOT NULL,
        labels TEXT NOT NULL,
        probabilities TEXT NOT NULL,
        prediction TEXT NOT NULL,
        confidence REAL NOT NULL,
        margin REAL NOT NULL,
        entropy REAL NOT NULL,
        elapsed_ms REAL,
        subject TEXT,
        request_id TEXT,
        image_sha256 TEXT NOT NULL REFERENCES images (sha256)
      );
      CREATE INDEX captures_at ON captures (at);
      CREATE INDEX captures_confidence ON captures (confidence, seq);
      CREATE INDEX captures_margin ON captures (margin, seq);
      CREATE INDEX captures_entropy ON captures (entropy DESC, seq);
      CREATE INDEX captures_image ON captures (image_sha256);
      CREATE TABLE feedback (
        capture_seq INTEGER PRIMARY KEY REFERENCES captures (seq) ON DELETE CASCADE,
        label TEXT NOT NULL,
        at INTEGER NOT NULL,
        subject TEXT
      );
    `,
  },
];

/** The schema version this code reads and writes. */
const SCHEMA_VERSION = migrations.at(-1)!.version;

/** A database this code cannot use (a newer schema, not a capture database). */
export class CaptureDatabaseError extends Error {
  readonly code = 'capture-database';
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'CaptureDatabaseError';
  }
}

/** Runs `work` in one transaction (`BEGIN IMMEDIATE`: the write lock at once, no upgrade deadlock). */
function inTransaction<T>(db: DatabaseSync, work: () => T): T {
  db.exec('BEGIN IMMEDIATE');
  try {
    const result = work();
    db.exec('COMMIT');
    return result;
  } catch (err) {
    db.exec('ROLLBACK');
    throw err;
  }
}

/** Applies the migrations `db` lacks; returns the versions applied. */
function migrate(db: DatabaseSync): number[] {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at TEXT NOT NULL
  )`);
  const current = Number(db.prepare('SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations').get()?.v ?? 0);
  if (current > SCHEMA_VERSION) {
    throw new CaptureDatabaseError(`the capture database has schema version ${current}, newer than this service's ${SCHEMA_VERSION}: run a newer service, or another CAPTURE_DIR`);
  }
  const applied: number[] = [];
  for (const migration of migrations.filter((m) => m.version > current)) {
    inTransaction(db, () => {
      db.exec(migration.sql);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)')
        .run(migration.version, migration.name, new Date().toISOString());
    });
    applied.push(migration.version);
  }
  return applied;
}

/**
 * Opens the database for writing (creating it, and migrating it to {@link SCHEMA_VERSION}):
 * WAL, `synchronous=NORMAL`, foreign keys on (feedback goes with its capture), and a busy
 * timeout for the moments a reader holds the WAL (a checkpoint).
 */
export function openForWriting(dir: string): { db: DatabaseSync; migrated: number[] } {
  const db = new DatabaseSync(path.join(dir, DATABASE_FILE));
  try {
    db.exec('PRAGMA busy_timeout = 5000');
    db.exec('PRAGMA journal_mode = WAL');
    db.exec('PRAGMA synchronous = NORMAL');
    db.exec('PRAGMA foreign_keys = ON');
    const migrated = migrate(db);
    return { db, migrated };
  } catch (err) {
    db.close();
    throw err;
  }
}

/**
 * Opens an existing database to read it (`make train`, while the service may be writing it):
 * read-only, checked to be a capture database of a schema this code knows.
 */
export function openForReading(dir: string): DatabaseSync {
  const db = new DatabaseSync(path.join(dir, DATABASE_FILE), { readOnly: true });
  try {
    db.exec('PRAGMA busy_timeout = 5000');
    const table = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").get();
    if (!table) throw new CaptureDatabaseError(`${path.join(dir, DATABASE_FILE)} is not a capture database`);
    const version = Number(db.prepare('SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations').get()?.v ?? 0);
    if (version > SCHEMA_VERSION) throw new CaptureDatabaseError(`the capture database has schema version ${version}, newer than this code's ${SCHEMA_VERSION}`);
    if (version < 1) throw new CaptureDatabaseError(`${path.join(dir, DATABASE_FILE)} has no tables yet`);
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

/** How uncertain a distribution is: what `GET /captures?order=` sorts by. */
export interface Uncertainty {
  /** The highest probability. */
  readonly confidence: number;
  /** The highest minus the second highest. */
  readonly margin: number;
  /** Shannon entropy, in bits. */
  readonly entropy: number;
}

/** The uncertainty of `values` (probabilities). */
export function uncertaintyOf(values: readonly number[]): Uncertainty {
  const sorted = [...values].sort((a, b) => b - a);
  const confidence = sorted[0] ?? 0;
  const margin = confidence - (sorted[1] ?? 0);
  const entropy = values.reduce((h, p) => (p > 0 ? h - p * Math.log2(p) : h), 0);
  return { confidence, margin, entropy: Math.max(0, entropy) };
}

/** A capture as the writer stores it: what came over the wire, its image by SHA-256. */
export interface CaptureRow extends Omit<WireCapture, 'image'> {
  readonly sha256: string;
}

/** An image as the writer stores it. */
export interface ImageRow {
  readonly sha256: string;
  readonly bytes: number;
  readonly mediaType: string | undefined;
}

const SELECT_VIEW = `
  SELECT c.seq, c.id, c.at, c.source, c.model, c.model_name, c.version, c.labels, c.probabilities, c.prediction,
         c.confidence, c.margin, c.entropy, c.elapsed_ms, c.subject, c.request_id, c.image_sha256,
         i.bytes AS image_bytes, i.media_type AS image_media_type,
         f.label AS feedback_label, f.at AS feedback_at, f.subject AS feedback_subject
  FROM captures c
  JOIN images i ON i.sha256 = c.image_sha256
  LEFT JOIN feedback f ON f.capture_seq = c.seq`;

const ORDER_BY: Readonly<Record<CaptureOrder, string>> = {
  'least-confidence': 'c.confidence ASC, c.seq DESC',
  margin: 'c.margin ASC, c.seq DESC',
  entropy: 'c.entropy DESC, c.seq DESC',
  newest: 'c.seq DESC',
};

const text = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : undefined);

function viewOf(row: Record<string, unknown>): CaptureView {
  const feedbackLabel = text(row.feedback_label);
  return {
    id: String(row.id),
    at: num(row.at) ?? 0,
    source: String(row.source) as CaptureSource,
    model: String(row.model),
    modelName: String(row.model_name),
    version: String(row.version),
    labels: JSON.parse(String(row.labels)) as string[],
    values: JSON.parse(String(row.probabilities)) as number[],
    prediction: String(row.prediction),
    confidence: num(row.confidence) ?? 0,
    margin: num(row.margin) ?? 0,
    entropy: num(row.entropy) ?? 0,
    elapsedMs: num(row.elapsed_ms),
    subject: text(row.subject),
    requestId: text(row.request_id),
    image: { sha256: String(row.image_sha256), bytes: num(row.image_bytes) ?? 0, mediaType: text(row.image_media_type) },
    feedback: feedbackLabel === undefined
      ? undefined
      : { label: feedbackLabel, at: num(row.feedback_at) ?? 0, subject: text(row.feedback_subject) },
  };
}

/** The queries of the capture database, on an open connection. */
export interface CaptureQueries {
  /** Inserts what is not there yet, in one transaction; returns the ids already taken (not stored again). */
  insert(images: readonly ImageRow[], captures: readonly CaptureRow[]): { readonly duplicates: readonly string[] };
  /** Whether the image `sha256` is stored. */
  hasImage(sha256: string): boolean;
  get(id: string): CaptureView | undefined;
  list(query: CaptureQuery): CaptureView[];
  /** Records `label` (matched to the model's labels in any case) as capture `id`'s; the latest wins. */
  feedback(id: string, label: string, subject: string | undefined, at: number): FeedbackOutcome;
  /**
   * Removes the captures older than `before` (ms since the epoch), then, oldest first, as many
   * more as it takes to bring the images' bytes under `maxImageBytes`; then the images no capture
   * names. Returns the SHA-256 of the images removed, whose files the caller deletes.
   */
  prune(before: number, maxImageBytes: number): { readonly captures: number; readonly images: readonly string[] };
  /** The stored images' count and bytes, and the captures' count. */
  totals(): { readonly images: number; readonly imageBytes: number; readonly captures: number };
  /** The bytes the database's pages in use take (its free pages are reused before it grows). */
  databaseBytes(): number;
  /** Every stored image's SHA-256 (to find image files no row names). */
  imageHashes(): Set<string>;
}

/** The queries of `db`, prepared once. */
export function captureQueries(db: DatabaseSync): CaptureQueries {
  const insertImage = db.prepare('INSERT INTO images (sha256, bytes, media_type, stored_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING');
  const insertCapture = db.prepare(`INSERT INTO captures (id, at, source, model, model_name, version, labels, probabilities, prediction,
      confidence, margin, entropy, elapsed_ms, subject, request_id, image_sha256)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`);
  const hasImage = db.prepare('SELECT 1 AS found FROM images WHERE sha256 = ?');
  const byId = db.prepare(`${SELECT_VIEW} WHERE c.id = ?`);
  const captureOf = db.prepare('SELECT seq, model, version, labels, prediction FROM captures WHERE id = ?');
  const feedbackOf = db.prepare('SELECT label FROM feedback WHERE capture_seq = ?');
  const upsertFeedback = db.prepare(`INSERT INTO feedback (capture_seq, label, at, subject) VALUES (?, ?, ?, ?)
    ON CONFLICT (capture_seq) DO UPDATE SET label = excluded.label, at = excluded.at, subject = excluded.subject`);
  const deleteOlder = db.prepare('DELETE FROM captures WHERE seq IN (SELECT seq FROM captures WHERE at < ? ORDER BY seq LIMIT 500)');
  const deleteOldest = db.prepare('DELETE FROM captures WHERE seq IN (SELECT seq FROM captures ORDER BY seq LIMIT ?)');
  const deleteOrphans = db.prepare('DELETE FROM images WHERE NOT EXISTS (SELECT 1 FROM captures c WHERE c.image_sha256 = images.sha256) RETURNING sha256');
  const imageTotals = db.prepare('SELECT COUNT(*) AS n, COALESCE(SUM(bytes), 0) AS bytes FROM images');
  const captureCount = db.prepare('SELECT COUNT(*) AS n FROM captures');
  const lists = new Map<string, ReturnType<DatabaseSync['prepare']>>();

  const imageBytes = (): number => num(imageTotals.get()?.bytes) ?? 0;

  return {
    insert(images, captures) {
      const duplicates: string[] = [];
      inTransaction(db, () => {
        const now = Date.now();
        for (const image of images) insertImage.run(image.sha256, image.bytes, image.mediaType ?? null, now);
        for (const c of captures) {
          const u = uncertaintyOf(c.values);
          const { changes } = insertCapture.run(
            c.id, c.at, c.source, c.model, c.modelName, c.version, JSON.stringify(c.labels), JSON.stringify(c.values), c.prediction,
            u.confidence, u.margin, u.entropy, c.elapsedMs ?? null, c.subject ?? null, c.requestId ?? null, c.sha256,
          );
          if (Number(changes) === 0) duplicates.push(c.id);
        }
        // A duplicate's image may be new and named by nothing: the next prune removes it.
      });
      return { duplicates };
    },
    hasImage: (sha256) => hasImage.get(sha256) !== undefined,
    get(id) {
      const row = byId.get(id);
      return row ? viewOf(row) : undefined;
    },
    list(query) {
      const where: string[] = [];
      if (query.labelled === true) where.push('f.capture_seq IS NOT NULL');
      if (query.labelled === false) where.push('f.capture_seq IS NULL');
      if (query.model !== undefined) where.push('c.model = ?');
      const sql = `${SELECT_VIEW}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY ${ORDER_BY[query.order]} LIMIT ?`;
      let statement = lists.get(sql);
      if (!statement) {
        statement = db.prepare(sql);
        lists.set(sql, statement);
      }
      const params = query.model === undefined ? [query.limit] : [query.model, query.limit];
      return statement.all(...params).map(viewOf);
    },
    feedback(id, label, subject, at) {
      return inTransaction(db, (): FeedbackOutcome => {
        const row = captureOf.get(id);
        if (!row) return { kind: 'not-found' };
        const labels = JSON.parse(String(row.labels)) as string[];
        const matched = labels.find((l) => l.toLowerCase() === label.toLowerCase());
        if (matched === undefined) return { kind: 'unknown-label', model: String(row.model), version: String(row.version), labels };
        const seq = num(row.seq) ?? 0;
        const previous = feedbackOf.get(seq)?.label;
        upsertFeedback.run(seq, matched, at, subject ?? null);
        return {
          kind: 'recorded',
          label: matched,
          model: String(row.model),
          version: String(row.version),
          prediction: String(row.prediction),
          ...(previous === undefined || previous === null ? {} : { previous: String(previous) }),
        };
      });
    },
    prune(before, maxImageBytes) {
      return inTransaction(db, () => {
        let captures = 0;
        for (let removed = 1; removed > 0;) {
          removed = Number(deleteOlder.run(before).changes);
          captures += removed;
        }
        // By size: the oldest go, a hundredth of the captures (at least one) at a time, until
        // the images left fit (an image several captures share goes with the last of them). Small
        // steps: a small store keeps its newest captures, a large one takes a few dozen steps.
        let removedImages = deleteOrphans.all().map((r) => String(r.sha256));
        while (imageBytes() > maxImageBytes) {
          const count = num(captureCount.get()?.n) ?? 0;
          if (count === 0) break;
          captures += Number(deleteOldest.run(Math.max(1, Math.ceil(count / 100))).changes);
          removedImages = [...removedImages, ...deleteOrphans.all().map((r) => String(r.sha256))];
        }
        return { captures, images: removedImages };
      });
    },
    totals() {
      const images = imageTotals.get();
      return { images: num(images?.n) ?? 0, imageBytes: num(images?.bytes) ?? 0, captures: num(captureCount.get()?.n) ?? 0 };
    },
    databaseBytes() {
      const pages = num(db.prepare('PRAGMA page_count').get()?.page_count) ?? 0;
      const free = num(db.prepare('PRAGMA freelist_count').get()?.freelist_count) ?? 0;
      const size = num(db.prepare('PRAGMA page_size').get()?.page_size) ?? 4096;
      return (pages - free) * size;
    },
    imageHashes() {
      return new Set(db.prepare('SELECT sha256 FROM images').all().map((r) => String(r.sha256)));
    },
  };
}

/** A labelled capture, as `make train` reads it. */
export interface LabelledCapture {
  readonly id: string;
  readonly sha256: string;
  readonly model: string;
  readonly version: string;
  /** The feedback's label, as the model spells it. */
  readonly label: string;
  /** When the feedback was given, in ms since the epoch. */
  readonly labelledAt: number;
}

/** Every labelled capture (of `model` when given; of every model otherwise), the latest feedback last. */
export function labelledCaptures(db: DatabaseSync, model?: string): LabelledCapture[] {
  return db.prepare(`SELECT c.id, c.image_sha256, c.model, c.version, f.label, f.at
      FROM captures c JOIN feedback f ON f.capture_seq = c.seq
      ${model === undefined ? '' : 'WHERE c.model = ?'} ORDER BY f.at, c.seq`)
    .all(...(model === undefined ? [] : [model]))
    .map((r) => ({
      id: String(r.id),
      sha256: String(r.image_sha256),
      model: String(r.model),
      version: String(r.version),
      label: String(r.label),
      labelledAt: num(r.at) ?? 0,
    }));
}
