/**
 * `make train` in a fresh clone (issue 25, item 8): without labelled photos, or with a labels file
 * it cannot use, it says what it needs and how to give it, in a few lines and exit code 2, never a
 * stack trace.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
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
  expect(stderr).to.contain('make train TRAIN_DATA=/path/to/folder').and.contain('labels.json');
  expect(stderr, 'no stack trace').to.not.match(/\n\s+at /);
}

describe('make train without usable labelled photos (issue 25, item 8)', function () {
  this.timeout(120_000);
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'cdo-train-inputs-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('given none: says what it needs and how to give it', async () => {
    const { code, stderr } = await train([]);
    expect(code).to.equal(2);
    expectExplained(stderr, /^train: no labelled photos given\.$/);
  });

  it('given a folder without labels.json: names the missing file', async () => {
    const { code, stderr } = await train(['--data', dir]);
    expect(code).to.equal(2);
    expectExplained(stderr, new RegExp(`^train: ${path.join(dir, 'labels.json').replace(/[/.]/g, '\\$&')} does not exist\\.$`));
  });

  it('given a labels file of another shape: says what is wrong with it', async () => {
    const folder = path.join(dir, 'wrong');
    await mkdir(path.join(folder, 'images'), { recursive: true });
    await writeFile(path.join(folder, 'labels.json'), '{"photos": 3}');
    const { code, stderr } = await train(['--data', folder]);
    expect(code).to.equal(2);
    expectExplained(stderr, /^train: labels .*labels\.json: is neither/);
  });
});
