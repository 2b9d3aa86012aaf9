/**
 * Issue 3, start-up: authentication is on by default; enabled without issuer or audience the
 * process refuses to start with one line; `AUTH_DISABLED=true` starts and logs a warning.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { expect } from 'chai';
import { rootDir } from '../../src/spec.js';
import { buildImagenetLikeModel, imagenetLikeManifest } from '../fixtures/onnx-models.js';
import { writeFixtureModel } from '../support/service.js';

const tsx = path.join(rootDir, 'node_modules', '.bin', 'tsx');

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `src/main.ts` until it exits, or until `until` matches its stdout (then stops it). */
function run(env: Record<string, string>, until?: RegExp): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(tsx, ['src/main.ts'], {
      cwd: rootDir,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', PORT: '0', GRPC_PORT: '0', HOST: '127.0.0.1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (until?.test(stdout)) child.kill('SIGTERM');
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 50_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr: stderr.trim() });
    });
  });
}

describe('start-up with authentication settings (issue 3)', function () {
  this.timeout(60_000);

  it('refuses to start when auth is on (the default) without OAUTH2_ISSUER and OAUTH2_AUDIENCE, in one line', async () => {
    const { code, stderr } = await run({ LOG_LEVEL: 'silent' });
    expect(code).to.equal(2);
    expect(stderr.split('\n')).to.have.length(1);
    expect(stderr).to.contain('OAUTH2_ISSUER is required').and.contain('OAUTH2_AUDIENCE is required');
  });

  it('refuses HS256 in the algorithm allow-list together with the other problems', async () => {
    const { code, stderr } = await run({
      OAUTH2_ISSUER: 'https://issuer.example/',
      OAUTH2_ALGORITHMS: 'HS256',
      PORT: 'eighty',
    });
    expect(code).to.equal(2);
    expect(stderr.split('\n')).to.have.length(1);
    expect(stderr).to.contain('PORT').and.contain('OAUTH2_AUDIENCE').and.contain('refused: HS256');
  });

  it('starts with AUTH_DISABLED=true and logs a warning', async () => {
    const { manifestPath } = await writeFixtureModel({ bytes: buildImagenetLikeModel(), manifest: imagenetLikeManifest });
    const { stdout } = await run({ AUTH_DISABLED: 'true', LOG_LEVEL: 'warn', MODEL_MANIFEST: manifestPath }, /AUTH_DISABLED/);
    const warning = stdout.split('\n').find((line) => line.includes('AUTH_DISABLED'));
    expect(warning, stdout).to.not.equal(undefined);
    expect(JSON.parse(warning!)).to.include({ level: 40 });
  });
});
