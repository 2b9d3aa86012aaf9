/**
 * Issue 15's loop, as the README shows it: the service polls its model repository, `make train`
 * runs on the labelled photos in another process, and `/upload` answers `"model_version":"2"`
 * without a restart and without a failed request. The real default model and the real
 * training script, on a copy of the repository (the checkout's own is left alone).
 */
import { spawn } from 'node:child_process';
import { cp, readFile } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'chai';
import { rootDir } from '../../src/spec.js';
import { catImagePath } from '../fixtures/course-images.js';
import { createRepositoryDir, removeRepository } from '../fixtures/model-repository.js';
import { need } from '../support/external.js';
import { spawnService, upload, type SpawnedService } from '../support/process.js';


/** Runs `make train`'s script on the photos into `repository`; resolves with its output. */
function train(photosDir: string, repository: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/train.ts', '--data', photosDir, '--repository', repository], {
      cwd: rootDir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`train exited with ${code}:\n${out}`))));
  });
}

describe('the retrain-to-serve loop (issue 15)', function () {
  this.timeout(600_000);
  let photosDir: string;
  let root: string;
  let svc: SpawnedService | undefined;

  before(async function () {
    photosDir = need(this, 'photos');
    root = await createRepositoryDir();
    await cp(path.join(rootDir, 'resources', 'models', 'repository', 'catdog', '1'), path.join(root, 'catdog', '1'), { recursive: true });
    svc = await spawnService({ MODEL_REPOSITORY: root, MODEL_CONTROL: 'poll', MODEL_POLL_INTERVAL_MS: '1000' });
  });
  after(async () => {
    await svc?.stop();
    if (root) await removeRepository(root);
  });

  it('serves what make train publishes, without a restart or a failed request', async () => {
    const cat = await readFile(catImagePath);
    const answers: { status: number; version: unknown }[] = [];
    let training = true;
    const traffic = (async () => {
      // Until training is done and version 2 has answered.
      while (training || answers.at(-1)?.version !== '2') {
        const { status, body } = await upload(svc!.url, cat, 'cat.png');
        answers.push({ status, version: body.model_version });
        if (answers.length > 100_000) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();
    const out = await train(photosDir, root).finally(() => (training = false));
    expect(out).to.match(/train: published catdog version 2 in /);
    // The drift's training reference (docs/evidence.md): the share of each label among the nested-CV predictions.
    const { reference } = JSON.parse(await readFile(path.join(root, 'catdog', '2', 'manifest.json'), 'utf8')) as {
      reference: { predicted: Record<string, number>; answers: number; source: string };
    };
    expect(Object.keys(reference.predicted)).to.deep.equal(['Cat', 'Dog', 'Other']);
    expect(Object.values(reference.predicted).reduce((a, b) => a + b, 0)).to.be.closeTo(1, 1e-9);
    expect(reference.source).to.match(/^nested 5-fold cross-validation predictions on the \d+ training photos$/);
    await traffic;
    expect(new Set(answers.map((a) => a.status))).to.deep.equal(new Set([200]));
    expect(answers[0]!.version).to.equal('1');
    expect(answers.at(-1)!.version).to.equal('2');
    expect(svc!.output()).to.match(/"model":"catdog","version":"2","previous":"1"[^\n]*"msg":"model version serving"/);
  });
});
