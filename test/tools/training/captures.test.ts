/**
 * The labelled captures as training photos (tools/training/captures.ts, held-out.ts; issue 25):
 * read from a capture database the service's own code wrote (real SQLite, WAL), closed or still
 * open for writing; one photo per image with its latest label; what cannot be used counted; the
 * held-out split by SHA-256, stable and about the share asked; the development photos combined
 * with the captures, a captured development photo counted once.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { DatabaseSync } from 'node:sqlite';
import { expect } from 'chai';
import { CaptureDatabaseError, DATABASE_FILE, captureQueries, imageFile, openForWriting, type CaptureRow } from '../../../src/capture/database.js';
import { readCapturedPhotos, type CapturedPhoto } from '../../../tools/training/captures.js';
import { HELD_OUT_SHARE, isHeldOut, splitPoint, trainingSet } from '../../../tools/training/held-out.js';

const LABELS = ['Cat', 'Dog', 'Other'];
const sha256 = (bytes: Uint8Array | string): string => createHash('sha256').update(bytes).digest('hex');

/** A capture of image `hash` by `model` (whose labels are `labels`). */
function row(id: string, hash: string, model = 'catdog', labels = LABELS): CaptureRow {
  return {
    id, at: Date.now(), source: 'upload', model, modelName: model, version: '1', labels, values: labels.map(() => 1 / labels.length),
    prediction: labels[0]!, elapsedMs: 5, subject: undefined, requestId: undefined, sha256: hash,
  };
}

describe('tools/training/captures and held-out: the labelled captures as training photos', () => {
  let dir: string;
  let db: DatabaseSync | undefined;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'cdo-train-captures-'));
  });
  afterEach(async () => {
    db?.close();
    db = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  /** Stores `bytes` as the service does: the row, and the file under images/. */
  async function store(bytes: string): Promise<string> {
    const hash = sha256(bytes);
    await mkdir(path.dirname(imageFile(dir, hash)), { recursive: true });
    await writeFile(imageFile(dir, hash), bytes);
    return hash;
  }

  it('is nothing when the folder holds no capture database, and refuses a file that is not one', async () => {
    expect(readCapturedPhotos(dir, LABELS)).to.equal(undefined);
    expect(readCapturedPhotos(path.join(dir, 'absent'), LABELS)).to.equal(undefined);
    await writeFile(path.join(dir, DATABASE_FILE), '');
    expect(() => readCapturedPhotos(dir, LABELS)).to.throw(CaptureDatabaseError, /is not a capture database/);
  });

  it('gives one photo per image with its latest label (any case), and counts what it cannot use', async () => {
    db = openForWriting(dir).db;
    const q = captureQueries(db);
    const [a, b, c, gone] = [await store('photo a'), await store('photo b'), await store('photo c'), sha256('photo gone')];
    const images = [a, b, c, gone].map((hash) => ({ sha256: hash, bytes: 7, mediaType: 'image/png' }));
    q.insert(images, [row('a1', a), row('a2', a), row('b1', b, 'imagenet-grouped'), row('c1', c, 'birds', ['Robin', 'Wren']), row('g1', gone), row('u1', b)]);
    expect(q.feedback('a1', 'dog', undefined, 1).kind).to.equal('recorded');
    expect(q.feedback('b1', 'OTHER', undefined, 2).kind).to.equal('recorded');
    expect(q.feedback('a2', 'cat', undefined, 3).kind).to.equal('recorded');
    expect(q.feedback('c1', 'wren', undefined, 4).kind).to.equal('recorded');
    expect(q.feedback('g1', 'Cat', undefined, 5).kind).to.equal('recorded');

    // Read while the service's connection is still open (WAL).
    const captured = readCapturedPhotos(dir, LABELS)!;
    expect(captured.labelledCaptures).to.equal(5);
    expect(captured.photos).to.deep.equal([
      { file: imageFile(dir, b), label: 2, sha256: b, id: 'b1' },
      { file: imageFile(dir, a), label: 0, sha256: a, id: 'a2' },
    ]);
    expect([...captured.leftOut.byLabel]).to.deep.equal([['Wren', 1]]);
    expect(captured.leftOut.missingImages).to.equal(1);

    // And with no service: the database closed (its WAL checkpointed and removed).
    db.close();
    db = undefined;
    expect(readCapturedPhotos(dir, LABELS)!.photos.map((p) => p.id)).to.deep.equal(['b1', 'a2']);
  });

  it('holds out about the share asked, by SHA-256 alone: the same photos whatever else is there', () => {
    const hashes = Array.from({ length: 2000 }, (_, i) => sha256(`photo ${i}`));
    const held = hashes.filter((h) => isHeldOut(h, HELD_OUT_SHARE));
    expect(held.length / hashes.length).to.be.within(0.17, 0.23);
    expect(hashes.slice(0, 100).filter((h) => isHeldOut(h, HELD_OUT_SHARE))).to.deep.equal(held.filter((h) => hashes.indexOf(h) < 100));
    expect(hashes.filter((h) => isHeldOut(h, 0))).to.deep.equal([]);
    expect(hashes.filter((h) => isHeldOut(h, 1))).to.have.length(hashes.length);
    expect(splitPoint('0'.repeat(64))).to.equal(0);
    expect(splitPoint('f'.repeat(64))).to.be.below(1);
  });

  it('combines development photos and captures: a captured development photo once, with its capture\'s label, or not at all when held out', async () => {
    const contents = Array.from({ length: 40 }, (_, i) => `development photo ${i}`);
    const held = contents.find((t) => isHeldOut(sha256(t), HELD_OUT_SHARE))!;
    const [kept, relabelled, same] = contents.filter((t) => !isHeldOut(sha256(t), HELD_OUT_SHARE));
    const development = await Promise.all([held, kept!, relabelled!, same!].map(async (t) => {
      const file = path.join(dir, `${sha256(t).slice(0, 8)}.png`);
      await writeFile(file, t);
      return { file, label: 0 };
    }));
    const capture = (text: string, label: number): CapturedPhoto => ({ file: imageFile(dir, sha256(text)), label, sha256: sha256(text), id: text });
    const newOne = contents.slice(4).find((t) => ![held, kept, relabelled, same].includes(t) && !isHeldOut(sha256(t), HELD_OUT_SHARE))!;
    const captured = [capture(held, 0), capture(relabelled!, 1), capture(same!, 0), capture(newOne, 2)];

    const set = await trainingSet(development, captured, HELD_OUT_SHARE);
    expect(set.images).to.deep.equal([development[1], { ...development[2], label: 1 }, development[3], captured[3]]);
    expect(set.heldOut).to.deep.equal([captured[0]]);
    expect(set.captured).to.deep.equal(captured.slice(1));
    expect(set.development).to.equal(1);
    expect(set.overlap).to.deep.equal({ replaced: 2, relabelled: 1, withheld: 1 });

    // No captures: the development photos as they are.
    expect((await trainingSet(development, [], HELD_OUT_SHARE)).images).to.deep.equal(development);
  });
});
