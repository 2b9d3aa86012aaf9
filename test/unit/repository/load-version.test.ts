/**
 * A version is checked before it may serve: each way a version folder can be wrong is refused
 * with its code and a reason that stands alone in the index, and nothing it created is left
 * running. Real fixture models, real onnxruntime sessions.
 */
import path from 'node:path';
import { expect } from 'chai';
import { manifestLayout, scanRepository } from '../../../src/repository/layout.js';
import { versionLoader } from '../../../src/repository/load-version.js';
import { VersionRefused } from '../../../src/repository/refusal.js';
import { createRepositoryDir, removeRepository, writeVersionFiles, type VersionOptions } from '../../fixtures/model-repository.js';

const load = versionLoader({ limits: { maxImagePixels: 40_000_000 }, classifier: { workers: 0 }, maxModelBytes: 64 * 1024 * 1024 });

describe('loading a version', function () {
  this.timeout(30_000);
  let root: string;
  beforeEach(async () => {
    root = await createRepositoryDir();
  });
  afterEach(() => removeRepository(root));

  async function refusal(options: VersionOptions): Promise<VersionRefused> {
    await writeVersionFiles(path.join(root, 'm', '1'), options);
    const files = (await scanRepository(root)).get('m')!.get('1')!;
    try {
      const served = await load('m', '1', files);
      await served.classifier.close();
    } catch (err) {
      expect(err).to.be.instanceOf(VersionRefused);
      return err as VersionRefused;
    }
    throw new Error('the version was not refused');
  }

  it('serves a version whose checks pass, warmed up, under its name and version', async () => {
    await writeVersionFiles(path.join(root, 'm', '3'), { golden: [{ colour: 'red', label: 'Cat' }, { colour: 'green', label: 'Dog' }] });
    const served = await load('m', '3', (await scanRepository(root)).get('m')!.get('3')!);
    try {
      expect(served).to.deep.include({ name: 'm', version: '3' });
      expect(served.manifest.golden).to.have.length(2);
      expect(served.classifier.health()).to.equal('ok');
    } finally {
      await served.classifier.close();
    }
  });

  it('refuses a model file that does not match its SHA-256', async () => {
    const err = await refusal({ broken: 'checksum' });
    expect(err.code).to.equal('model-checksum-mismatch');
    expect(err.message).to.match(/^model\.onnx: SHA-256 is [0-9a-f]{64}, the manifest pins c{64}$/);
  });

  it('refuses a file still being copied (it does not match its SHA-256 yet)', async () => {
    expect((await refusal({ truncateTo: 100 })).code).to.equal('model-checksum-mismatch');
  });

  it('refuses an invalid manifest, saying what is wrong', async () => {
    const err = await refusal({ broken: 'manifest' });
    expect(err.code).to.equal('manifest-invalid');
    expect(err.message).to.equal('invalid manifest.json: /labels must NOT have fewer than 1 items');
  });

  it('refuses a graph onnxruntime cannot load', async () => {
    const err = await refusal({ broken: 'graph' });
    expect(err.code).to.equal('model-unloadable');
    expect(err.message).to.match(/^onnxruntime cannot load the model: /);
  });

  it('refuses a version whose golden examples are answered otherwise, naming each', async () => {
    const err = await refusal({ golden: [{ colour: 'red', label: 'Cat' }, { colour: 'blue', label: 'Dog' }] });
    expect(err.code).to.equal('golden-mismatch');
    expect(err.message).to.equal('golden examples answered otherwise: golden/1-blue.png answered Other, expected Dog');
  });

  it('refuses a version without a manifest yet', async () => {
    await writeVersionFiles(path.join(root, 'm', '1'));
    const files = (await manifestLayout('m', path.join(root, 'm', '1', 'absent.json'))).get('m')!.get('1')!;
    let error: unknown;
    await load('m', '1', files).catch((err: unknown) => (error = err));
    expect(error).to.be.instanceOf(VersionRefused).with.property('code', 'manifest-unreadable');
    expect((error as Error).message).to.equal('manifest.json "absent.json" cannot be read (ENOENT)');
  });
});
