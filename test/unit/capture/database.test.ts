/**
 * The capture database (src/capture/database.ts): its migrations, what a capture records and how
 * the store answers the captures' operations: orders, filters, feedback (the latest wins, any
 * case, only the model's labels), and pruning by age and size, oldest first.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { expect } from 'chai';
import {
  CaptureDatabaseError,
  DATABASE_FILE,
  captureQueries,
  labelledCaptures,
  openForReading,
  openForWriting,
  uncertaintyOf,
  type CaptureRow,
} from '../../../src/capture/database.js';

const LABELS = ['Cat', 'Dog', 'Other'];

/** A capture row answering `values`, of image `sha256`, at `at`. */
function row(id: string, values: number[], sha256 = 'a'.repeat(64), at = Date.now(), model = 'catdog'): CaptureRow {
  const best = values.indexOf(Math.max(...values));
  return {
    id, at, source: 'upload', model, modelName: 'catdog-mobilenetv2-head', version: '1', labels: LABELS, values,
    prediction: LABELS[best]!, elapsedMs: 12.5, subject: 'prediction-client', requestId: `req-${id}`, sha256,
  };
}
const image = (sha256: string, bytes = 1000) => ({ sha256, bytes, mediaType: 'image/png' });

describe('capture database', () => {
  let dir: string;
  let db: DatabaseSync;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'cdo-capture-db-'));
    db = openForWriting(dir).db;
  });
  afterEach(async () => {
    db.close();
    await rm(dir, { recursive: true, force: true });
  });

  describe('schema', () => {
    it('is created by its migrations, recorded in schema_migrations, in WAL mode; a second open applies none', () => {
      const applied = db.prepare('SELECT version, name FROM schema_migrations').all();
      expect(applied.map((r) => r.version)).to.deep.equal([1]);
      expect(db.prepare('PRAGMA journal_mode').get()?.journal_mode).to.equal('wal');
      db.close();
      const again = openForWriting(dir);
      db = again.db;
      expect(again.migrated).to.deep.equal([]);
    });

    it('refuses a database of a newer schema, naming both versions', () => {
      db.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, 'future', 'now')").run();
      db.close();
      expect(() => openForWriting(dir)).to.throw(CaptureDatabaseError, /schema version 99, newer than this service's 1/);
      expect(() => openForReading(dir)).to.throw(CaptureDatabaseError, /schema version 99/);
      db = new DatabaseSync(path.join(dir, DATABASE_FILE));
    });

    it('refuses to read a file that is not a capture database', async () => {
      const other = await mkdtemp(path.join(os.tmpdir(), 'cdo-capture-db-'));
      new DatabaseSync(path.join(other, DATABASE_FILE)).close();
      expect(() => openForReading(other)).to.throw(CaptureDatabaseError, /is not a capture database/);
      await rm(other, { recursive: true, force: true });
    });
  });

  it('measures uncertainty: the top probability, the gap to the second, the entropy in bits', () => {
    const u = uncertaintyOf([0.41, 0.38, 0.21]);
    expect(u.confidence).to.equal(0.41);
    expect(u.margin).to.be.closeTo(0.03, 1e-12);
    expect(u.entropy).to.be.closeTo(1.5307, 1e-4);
    expect(uncertaintyOf([1, 0, 0]).entropy).to.equal(0);
    expect(uncertaintyOf([1 / 3, 1 / 3, 1 / 3]).entropy).to.be.closeTo(Math.log2(3), 1e-12);
  });

  it('stores each image once, and a capture id once (the first wins)', () => {
    const q = captureQueries(db);
    q.insert([image('a'.repeat(64))], [row('one', [0.9, 0.05, 0.05]), row('two', [0.2, 0.7, 0.1])]);
    const { duplicates } = q.insert([image('a'.repeat(64))], [row('one', [0.1, 0.1, 0.8]), row('three', [0.5, 0.3, 0.2])]);
    expect(duplicates).to.deep.equal(['one']);
    expect(q.totals()).to.deep.equal({ images: 1, imageBytes: 1000, captures: 3 });
    expect(q.get('one')?.prediction).to.equal('Cat');
  });

  it('gives a capture back with everything it recorded', () => {
    const q = captureQueries(db);
    q.insert([image('b'.repeat(64), 4321)], [row('abc/2', [0.41, 0.38, 0.21], 'b'.repeat(64), 1_700_000_000_000)]);
    const view = q.get('abc/2')!;
    expect(view).to.deep.include({
      id: 'abc/2', at: 1_700_000_000_000, source: 'upload', model: 'catdog', modelName: 'catdog-mobilenetv2-head', version: '1',
      prediction: 'Cat', elapsedMs: 12.5, subject: 'prediction-client', requestId: 'req-abc/2', feedback: undefined,
    });
    expect(view.labels).to.deep.equal(LABELS);
    expect(view.values).to.deep.equal([0.41, 0.38, 0.21]);
    expect(view.image).to.deep.equal({ sha256: 'b'.repeat(64), bytes: 4321, mediaType: 'image/png' });
    expect(q.get('nothing')).to.equal(undefined);
  });

  describe('lists', () => {
    let q: ReturnType<typeof captureQueries>;
    beforeEach(() => {
      q = captureQueries(db);
      q.insert([image('a'.repeat(64))], [
        row('sure', [0.98, 0.01, 0.01]),
        row('torn', [0.5, 0.49, 0.01]),
        row('flat', [0.34, 0.33, 0.33]),
        row('lean', [0.6, 0.2, 0.2]),
        row('other-model', [0.4, 0.3, 0.3], 'a'.repeat(64), Date.now(), 'imagenet-grouped'),
      ]);
    });
    const ids = (order: 'least-confidence' | 'margin' | 'entropy' | 'newest', extra: { labelled?: boolean; model?: string; limit?: number } = {}) =>
      q.list({ order, labelled: extra.labelled, model: extra.model ?? 'catdog', limit: extra.limit ?? 50 }).map((v) => v.id);

    it('least confident first, smallest margin first, highest entropy first, newest first', () => {
      expect(ids('least-confidence')).to.deep.equal(['flat', 'torn', 'lean', 'sure']);
      expect(ids('margin')).to.deep.equal(['flat', 'torn', 'lean', 'sure']);
      expect(ids('entropy')).to.deep.equal(['flat', 'lean', 'torn', 'sure']);
      expect(ids('newest')).to.deep.equal(['lean', 'flat', 'torn', 'sure']);
    });

    it('keeps the labelled or the unlabelled ones, one model or all, at most `limit`', () => {
      q.feedback('flat', 'dog', undefined, Date.now());
      expect(ids('least-confidence', { labelled: false })).to.deep.equal(['torn', 'lean', 'sure']);
      expect(ids('least-confidence', { labelled: true })).to.deep.equal(['flat']);
      expect(ids('newest', { limit: 2 })).to.deep.equal(['lean', 'flat']);
      expect(q.list({ order: 'newest', labelled: undefined, model: undefined, limit: 50 }).map((v) => v.id)).to.include('other-model');
    });
  });

  describe('feedback', () => {
    it('takes a label of the model in any case, spelt as the model spells it; the latest wins', () => {
      const q = captureQueries(db);
      q.insert([image('a'.repeat(64))], [row('one', [0.9, 0.05, 0.05])]);
      // With the answer labelled (the evidence counts it right or wrong) and the label it replaces.
      const answer = { model: 'catdog', version: '1', prediction: 'Cat' };
      expect(q.feedback('one', 'dOG', 'labeller', 1000)).to.deep.equal({ kind: 'recorded', label: 'Dog', ...answer });
      expect(q.get('one')?.feedback).to.deep.equal({ label: 'Dog', at: 1000, subject: 'labeller' });
      expect(q.feedback('one', 'other', undefined, 2000)).to.deep.equal({ kind: 'recorded', label: 'Other', ...answer, previous: 'Dog' });
      expect(q.get('one')?.feedback).to.deep.equal({ label: 'Other', at: 2000, subject: undefined });
    });

    it('answers not-found for an unknown id and unknown-label, with the labels, for a label the model does not have', () => {
      const q = captureQueries(db);
      q.insert([image('a'.repeat(64))], [row('one', [0.9, 0.05, 0.05])]);
      expect(q.feedback('two', 'Cat', undefined, 1)).to.deep.equal({ kind: 'not-found' });
      expect(q.feedback('one', "Cat'; DROP TABLE captures; --", undefined, 1))
        .to.deep.equal({ kind: 'unknown-label', model: 'catdog', version: '1', labels: LABELS });
      expect(q.totals().captures).to.equal(1);
      expect(q.get('one')?.feedback).to.equal(undefined);
    });
  });

  describe('pruning', () => {
    it('removes the captures older than the bound, their feedback, and the images nothing names', () => {
      const q = captureQueries(db);
      q.insert([image('a'.repeat(64)), image('b'.repeat(64))], [
        row('old', [0.9, 0.05, 0.05], 'a'.repeat(64), 1_000),
        row('new', [0.9, 0.05, 0.05], 'b'.repeat(64), 10_000),
      ]);
      q.feedback('old', 'Cat', undefined, 2_000);
      const pruned = q.prune(5_000, Infinity);
      expect(pruned).to.deep.equal({ captures: 1, images: ['a'.repeat(64)] });
      expect(q.get('old')).to.equal(undefined);
      expect(db.prepare('SELECT COUNT(*) AS n FROM feedback').get()?.n).to.equal(0);
      expect(q.totals()).to.deep.equal({ images: 1, imageBytes: 1000, captures: 1 });
    });

    it('removes the oldest captures until the images fit, keeping an image while a newer capture names it', () => {
      const q = captureQueries(db);
      const images = Array.from({ length: 40 }, (_, i) => image(i.toString(16).padStart(64, '0'), 1000));
      q.insert(images, images.map((img, i) => row(`c${i}`, [0.9, 0.05, 0.05], img.sha256, i)));
      // The newest capture names the oldest image again.
      q.insert([], [row('c40', [0.9, 0.05, 0.05], images[0]!.sha256, 40)]);
      const { captures, images: removed } = q.prune(0, 20_500);
      expect(q.totals().imageBytes).to.be.at.most(20_500);
      expect(removed).to.not.include(images[0]!.sha256);
      const left = q.list({ order: 'newest', labelled: undefined, model: undefined, limit: 100 }).map((v) => Number(v.id.slice(1)));
      expect(Math.min(...left)).to.equal(40 - left.length + 1);
      expect(captures).to.equal(41 - left.length);
    });
  });

  it('is read by another connection while it is written (WAL), as make train reads it', () => {
    const q = captureQueries(db);
    q.insert([image('a'.repeat(64))], [row('one', [0.9, 0.05, 0.05])]);
    q.feedback('one', 'dog', undefined, 5);
    const reader = openForReading(dir);
    try {
      // The writer holds the write lock, mid-transaction: the reader sees the last commit.
      db.exec('BEGIN IMMEDIATE');
      db.exec("UPDATE feedback SET label = 'Other'");
      expect(labelledCaptures(reader, 'catdog')).to.deep.equal([
        { id: 'one', sha256: 'a'.repeat(64), model: 'catdog', version: '1', label: 'Dog', labelledAt: 5 },
      ]);
      db.exec('COMMIT');
      expect(labelledCaptures(reader, 'catdog').map((c) => c.label)).to.deep.equal(['Other']);
      expect(labelledCaptures(reader, 'imagenet-grouped')).to.deep.equal([]);
      // Without a model: every model's (make train reads them all).
      expect(labelledCaptures(reader).map((c) => c.id)).to.deep.equal(['one']);
    } finally {
      reader.close();
    }
  });
});
