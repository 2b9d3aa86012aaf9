/**
 * Issue 22, failure 5: a manifest could make the service read without bound (`/dev/zero`), wait
 * for ever (a FIFO), or read files outside the repository (`../../etc/passwd`, `/etc/shadow`)
 * and show their hash. Every file a version names is now a regular file inside its version folder
 * (inside the repository once links are resolved), read under a size cap and a time limit, and a
 * refusal says nothing about files outside the repository.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { VersionRefused } from '../../../src/repository/refusal.js';
import { readVersionFile, type VersionFolder } from '../../../src/repository/version-files.js';

const bounds = { maxBytes: 1024, timeoutMs: 5_000 };

describe('reading the files a version names', () => {
  let outside: string;
  let root: string;
  let folder: VersionFolder;

  before(async () => {
    outside = await mkdtemp(path.join(os.tmpdir(), 'cdo-outside-'));
    await writeFile(path.join(outside, 'secret.txt'), 'not for the index');
  });
  after(() => rm(outside, { recursive: true, force: true }));
  beforeEach(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'cdo-repository-'));
    folder = { dir: path.join(root, 'm', '1'), root };
    await mkdir(folder.dir, { recursive: true });
  });
  afterEach(() => rm(root, { recursive: true, force: true }));

  /** The refusal reading `file` ends in, its code and reason. */
  async function refusal(file: string): Promise<{ code: string; message: string }> {
    try {
      await readVersionFile(folder, file, 'model file', bounds, { code: 'model-unreadable' });
    } catch (err) {
      expect(err).to.be.instanceOf(VersionRefused);
      const { code, message } = err as VersionRefused;
      return { code, message };
    }
    throw new Error(`${file} was read`);
  }

  it('reads a regular file of the version folder, and one a link shares from elsewhere in the repository', async () => {
    await writeFile(path.join(folder.dir, 'model.onnx'), 'weights');
    expect((await readVersionFile(folder, path.join(folder.dir, 'model.onnx'), 'model file', bounds)).toString()).to.equal('weights');
    await mkdir(path.join(root, 'shared'));
    await writeFile(path.join(root, 'shared', 'big.onnx'), 'shared weights');
    await symlink(path.join(root, 'shared', 'big.onnx'), path.join(folder.dir, 'linked.onnx'));
    expect((await readVersionFile(folder, path.join(folder.dir, 'linked.onnx'), 'model file', bounds)).toString()).to.equal('shared weights');
  });

  it('refuses a path outside the version folder before asking the file system about it', async () => {
    for (const file of [path.resolve(folder.dir, '../../../etc/passwd'), '/etc/shadow', path.join(outside, 'secret.txt'), path.join(root, 'm', 'other.onnx')]) {
      const { code, message } = await refusal(file);
      expect(code, file).to.equal('file-refused');
      expect(message).to.match(/^model file ".*" is outside the version folder$/);
    }
  });

  it('refuses a link that leads outside the repository, naming neither its target nor what is there', async () => {
    await symlink(path.join(outside, 'secret.txt'), path.join(folder.dir, 'model.onnx'));
    const { code, message } = await refusal(path.join(folder.dir, 'model.onnx'));
    expect(code).to.equal('file-refused');
    expect(message).to.equal('model file is a symbolic link that leads outside the repository');
    expect(message).not.to.include(outside);
  });

  it('refuses what is not a regular file: a FIFO (without waiting for a writer), a device such as /dev/zero, a folder', async () => {
    execFileSync('mkfifo', [path.join(folder.dir, 'fifo.onnx')]);
    await mkdir(path.join(folder.dir, 'folder.onnx'));
    await mkdir(path.join(root, 'dev'));
    await symlink('/dev/zero', path.join(root, 'dev', 'zero'));
    await symlink(path.join(root, 'dev', 'zero'), path.join(folder.dir, 'zero.onnx'));
    for (const name of ['fifo.onnx', 'folder.onnx']) {
      expect(await refusal(path.join(folder.dir, name)), name).to.deep.equal({ code: 'file-refused', message: 'model file is not a regular file' });
    }
    // /dev/zero is outside the repository: refused as such, before it could be opened.
    expect((await refusal(path.join(folder.dir, 'zero.onnx'))).message).to.equal('model file is a symbolic link that leads outside the repository');
  });

  it('refuses a file over its cap from its size, before reading it', async () => {
    await writeFile(path.join(folder.dir, 'model.onnx'), Buffer.alloc(bounds.maxBytes + 1));
    expect(await refusal(path.join(folder.dir, 'model.onnx'))).to.deep.equal({
      code: 'file-refused',
      message: `model file is ${bounds.maxBytes + 1} bytes, over the limit of ${bounds.maxBytes}`,
    });
  });

  it('says a missing file cannot be read, with the caller\'s code', async () => {
    expect(await refusal(path.join(folder.dir, 'absent.onnx'))).to.deep.equal({ code: 'model-unreadable', message: 'model file "absent.onnx" cannot be read (ENOENT)' });
  });
});
