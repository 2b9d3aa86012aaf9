/**
 * How `make train` publishes a version: the next number, never over an existing version, and
 * never visible half-written (it appears under its number whole, by one rename).
 */
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'chai';
import { scanRepository } from '../../../src/repository/layout.js';
import { publishNextVersion, writeVersion } from '../../../tools/repository/publish.js';
import { createRepositoryDir, removeRepository } from '../../fixtures/model-repository.js';

describe('publishing a version into a model repository', () => {
  let root: string;
  beforeEach(async () => {
    root = await createRepositoryDir();
  });
  afterEach(() => removeRepository(root));

  const content = (text: string): Map<string, string> => new Map([['manifest.json', text], ['golden/a.txt', 'a']]);

  it('publishes version 1 of a new model, then the next number after the largest, leaving no staging folder', async () => {
    expect(await publishNextVersion(root, 'catdog', content('one'))).to.deep.include({ version: 1 });
    await mkdir(path.join(root, 'catdog', '7'));
    await writeFile(path.join(root, 'catdog', '7', 'manifest.json'), 'seven');
    await mkdir(path.join(root, 'catdog', '.9.partial'));
    const next = await publishNextVersion(root, 'catdog', content('eight'));
    expect(next).to.deep.equal({ version: 8, dir: path.join(root, 'catdog', '8') });
    expect(await readFile(path.join(root, 'catdog', '8', 'manifest.json'), 'utf8')).to.equal('eight');
    expect(await readFile(path.join(root, 'catdog', '8', 'golden', 'a.txt'), 'utf8')).to.equal('a');
    expect(await readFile(path.join(root, 'catdog', '7', 'manifest.json'), 'utf8')).to.equal('seven');
    expect((await readdir(path.join(root, 'catdog'))).sort()).to.deep.equal(['.9.partial', '1', '7', '8']);
    expect([...(await scanRepository(root)).get('catdog')!.keys()].sort()).to.deep.equal(['1', '7', '8']);
  });

  it('rewrites a version in place file by file (make model)', async () => {
    await writeVersion(root, 'catdog', 1, content('first'));
    await writeVersion(root, 'catdog', 1, content('second'));
    expect(await readFile(path.join(root, 'catdog', '1', 'manifest.json'), 'utf8')).to.equal('second');
    expect((await readdir(path.join(root, 'catdog', '1'))).sort()).to.deep.equal(['golden', 'manifest.json']);
  });
});
