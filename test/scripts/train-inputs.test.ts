/**
 * `make train` in a fresh clone (issue 25, items 7 and 8): without labelled photos (neither a
 * folder nor labelled captures), with a labels file it cannot use, or with a capture folder that
 * holds no capture database it can read, it says what it needs and how to give it, in a few lines
 * and exit code 2, never a stack trace.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { DATABASE_FILE, captureQueries, openForWriting } from '../../src/capture/database.js';
import { rootDir } from '../../src/spec.js';

/** Runs scripts/train.ts with `args`; its exit code and what it wrote on stderr. */
async function train(args: string[]): Promise<{ code: number; stderr: string }> {
  try {
    await promisify(execFile)(process.execPath, ['--import', 'tsx', 'scripts/train.ts', ...args], { cwd: rootDir, timeout: 60_000 });
    return { code: 0, stderr: '' };
  } catch (err) {
    const { code, stderr } = err as { code: number; stderr: string };
    return { code, stderr };
  }
}

function expectExplained(stderr: string, first: RegExp): void {
  expect(stderr.split('\n')[0]).to.match(first);
  expect(stderr).to.contain('make train TRAIN_DATA=/path/to/folder').and.contain('labels.json').and.contain('Labelled captures, read from CAPTURE_DIR');
  expect(stderr, 'no stack trace').to.not.match(/\n\s+at /);
}

describe('make train without usable labelled photos (issue 25, items 7 and 8)', function () {
  this.timeout(120_000);
  let dir: string;
  /** A capture folder with nothing in it (the checkout's var/captures may hold a developer's). */
  let noCaptures: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'cdo-train-inputs-'));
    noCaptures = path.join(dir, 'no-captures');
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('given none: says what it needs and how to give it', async () => {
    const { code, stderr } = await train(['--captures', noCaptures]);
    expect(code).to.equal(2);
    expectExplained(stderr, /^train: no labelled photos given\.$/);
    expect(stderr).to.contain(`(here ${noCaptures})`);
  });

  it('given only captures none of which is labelled: says so', async () => {
    const captures = path.join(dir, 'unlabelled');
    await mkdir(captures);
    const { db } = openForWriting(captures);
    captureQueries(db).insert([{ sha256: 'a'.repeat(64), bytes: 3, mediaType: 'image/png' }], [{
      id: 'one', at: Date.now(), source: 'upload', model: 'catdog', modelName: 'catdog', version: '1', labels: ['Cat', 'Dog', 'Other'],
      values: [0.5, 0.3, 0.2], prediction: 'Cat', elapsedMs: 3, subject: undefined, requestId: undefined, sha256: 'a'.repeat(64),
    }]);
    db.close();
    const { code, stderr } = await train(['--captures', captures]);
    expect(code).to.equal(2);
    expectExplained(stderr, new RegExp(`^train: no labelled photos given, and none of the captures in ${captures.replace(/[/.]/g, '\\$&')} is labelled\\.$`));
  });

  it('given a capture folder whose database is not one: names it, and how to do without', async () => {
    const captures = path.join(dir, 'not-a-database');
    await mkdir(captures);
    await writeFile(path.join(captures, DATABASE_FILE), 'just text');
    const { code, stderr } = await train(['--captures', captures]);
    expect(code).to.equal(2);
    expect(stderr.split('\n')[0]).to.match(/^train: the captures in .* cannot be read: .*\(another CAPTURE_DIR, or --no-captures\)$/);
    expect(stderr, 'no stack trace').to.not.match(/\n\s+at /);
  });

  it('given a folder without labels.json: names the missing file', async () => {
    const { code, stderr } = await train(['--data', dir, '--no-captures']);
    expect(code).to.equal(2);
    expectExplained(stderr, new RegExp(`^train: ${path.join(dir, 'labels.json').replace(/[/.]/g, '\\$&')} does not exist\\.$`));
  });

  it('given a labels file of another shape: says what is wrong with it', async () => {
    const folder = path.join(dir, 'wrong');
    await mkdir(path.join(folder, 'images'), { recursive: true });
    await writeFile(path.join(folder, 'labels.json'), '{"photos": 3}');
    const { code, stderr } = await train(['--data', folder, '--no-captures']);
    expect(code).to.equal(2);
    expectExplained(stderr, /^train: labels .*labels\.json: is neither/);
  });
});
