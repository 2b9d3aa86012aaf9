/**
 * What a scan of the repository finds: model folders, version folders named by positive
 * integers (anything else, such as a hidden folder a version is written into before it is
 * renamed, is ignored), and a fingerprint that changes whenever a version's files do.
 */
import { appendFile, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'chai';
import { compareVersions, scanRepository } from '../../../src/repository/layout.js';
import { createRepositoryDir, removeRepository } from '../../fixtures/model-repository.js';

describe('repository layout', () => {
  let root: string;
  beforeEach(async () => {
    root = await createRepositoryDir();
  });
  afterEach(() => removeRepository(root));

  const put = async (file: string, text = 'x'): Promise<void> => {
    await mkdir(path.dirname(path.join(root, file)), { recursive: true });
    await writeFile(path.join(root, file), text);
  };

  it('lists models and their version folders, and nothing else', async () => {
    await put('catdog/1/manifest.json');
    await put('catdog/12/manifest.json');
    await put('catdog/.3.partial/manifest.json');
    await put('catdog/03/manifest.json');
    await put('catdog/latest/manifest.json');
    await put('catdog/README.md');
    await put('.hidden/1/manifest.json');
    await put('empty/notes.txt');
    await put('notes.txt');
    const layout = await scanRepository(root);
    expect([...layout.keys()].sort()).to.deep.equal(['catdog', 'empty']);
    expect([...layout.get('catdog')!.keys()].sort(compareVersions)).to.deep.equal(['1', '12']);
    expect(layout.get('catdog')!.get('12')!.manifestPath).to.equal(path.join(root, 'catdog', '12', 'manifest.json'));
    expect(layout.get('empty')!.size).to.equal(0);
  });

  it('fingerprints a version by its files: a file that grows, appears or disappears changes it', async () => {
    await put('m/1/manifest.json');
    await put('m/1/model.onnx', 'abc');
    const fingerprint = async (): Promise<string> => (await scanRepository(root)).get('m')!.get('1')!.fingerprint;
    const first = await fingerprint();
    expect(await fingerprint()).to.equal(first);
    await appendFile(path.join(root, 'm/1/model.onnx'), 'def');
    const second = await fingerprint();
    expect(second).to.not.equal(first);
    await put('m/1/golden/cat.png');
    expect(await fingerprint()).to.not.equal(second);
  });

  it('fails when the repository folder cannot be read', async () => {
    let error: unknown;
    await scanRepository(path.join(root, 'absent')).catch((err: unknown) => (error = err));
    expect(error).to.have.property('code', 'ENOENT');
  });
});
