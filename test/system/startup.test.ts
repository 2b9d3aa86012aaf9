/**
 * Misuse fails at start-up: the real entry point, spawned as a process, refuses a wrong setting,
 * a missing model file or a SHA-256 mismatch with one clear line and a non-zero exit.
 */
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'chai';
import { rootDir } from '../../src/spec.js';
import { buildImagenetLikeModel, imagenetLikeManifest } from '../fixtures/onnx-models.js';
import { writeFixtureModel } from '../support/service.js';

const tsx = path.join(rootDir, 'node_modules', '.bin', 'tsx');

function start(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(tsx, ['src/main.ts'], {
      cwd: rootDir,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', AUTH_DISABLED: 'true', LOG_LEVEL: 'silent', PORT: '0', GRPC_PORT: '0', HOST: '127.0.0.1', ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr: stderr.trim() });
    });
  });
}

describe('start-up', function () {
  this.timeout(60_000);

  it('refuses invalid settings, all reported in one line', async () => {
    const { code, stderr } = await start({ PORT: 'eighty', MAX_UPLOAD_BYTES: '-1', LOG_LEVEL: 'loud' });
    expect(code).to.not.equal(0);
    expect(stderr.split('\n')).to.have.length(1);
    expect(stderr).to.contain('PORT').and.contain('MAX_UPLOAD_BYTES').and.contain('LOG_LEVEL');
  });

  it('refuses a manifest whose model file is missing, naming it', async () => {
    const { manifestPath } = await writeFixtureModel({ bytes: buildImagenetLikeModel(), manifest: imagenetLikeManifest });
    await writeFile(manifestPath, JSON.stringify(imagenetLikeManifest('absent.onnx', 'a'.repeat(64))));
    const { code, stderr } = await start({ MODEL_MANIFEST: manifestPath });
    expect(code).to.not.equal(0);
    expect(stderr.split('\n')).to.have.length(1);
    expect(stderr).to.contain('model file "absent.onnx" cannot be read (ENOENT)').and.contain('make model');
  });

  it('refuses a model file whose SHA-256 differs from the manifest', async () => {
    const { manifestPath } = await writeFixtureModel({
      bytes: buildImagenetLikeModel(),
      manifest: (file) => imagenetLikeManifest(file, 'b'.repeat(64)),
    });
    const { code, stderr } = await start({ MODEL_MANIFEST: manifestPath });
    expect(code).to.not.equal(0);
    expect(stderr).to.contain('SHA-256').and.contain('b'.repeat(64));
  });
});
