/**
 * Issue 22, failure 5, on the real process: a polling service whose repository receives hostile
 * versions — a manifest naming `/dev/zero`, `../../etc/passwd` or a file outside the repository;
 * a manifest that is a FIFO; a golden example of 200 MB — refuses each quickly with its reason,
 * reads none of them, keeps its memory, shows nothing of files outside the repository in its index
 * or its log, keeps serving the version it served, and still loads a good version after them.
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { open, readFile, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'chai';
import { solidImage } from '../fixtures/images.js';
import { createRepositoryDir, publishVersion, removeRepository, writeVersionFiles } from '../fixtures/model-repository.js';
import { residentBytes, spawnService, upload, type SpawnedService } from '../support/process.js';
import { waitFor } from '../support/wait.js';

const MiB = 1024 * 1024;

interface IndexLine {
  readonly name: string;
  readonly version: string;
  readonly state: string;
  readonly reason: string;
}

describe('issue 22: nothing outside a version folder (real process)', function () {
  this.timeout(180_000);
  let root: string;
  let svc: SpawnedService;
  let red: Buffer;

  const index = async (): Promise<IndexLine[]> =>
    (await (await fetch(`${svc.url}/v2/repository/index`, { method: 'POST' })).json()) as IndexLine[];
  const line = async (version: string): Promise<IndexLine | undefined> => (await index()).find((e) => e.name === 'catdog' && e.version === version);

  /** Writes a good version, then lets `spoil` change its folder; published by rename. */
  async function hostileVersion(version: string, spoil: (dir: string, manifest: Record<string, unknown>) => Promise<Record<string, unknown> | undefined>): Promise<void> {
    const staging = path.join(root, 'catdog', `.${version}.partial`);
    await writeVersionFiles(staging);
    const manifestPath = path.join(staging, 'manifest.json');
    const manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as Record<string, unknown>;
    const changed = await spoil(staging, manifest);
    if (changed) await writeFile(manifestPath, JSON.stringify(changed));
    execFileSync('mv', [staging, path.join(root, 'catdog', version)]);
  }

  before(async () => {
    root = await createRepositoryDir();
    await publishVersion(root, 'catdog', '1');
    red = await solidImage('red');
    svc = await spawnService({ MODEL_REPOSITORY: root, MODEL_CONTROL: 'poll', MODEL_POLL_INTERVAL_MS: '200' });
  });
  after(async () => {
    await svc?.stop();
    if (root) await removeRepository(root);
  });

  it('refuses each hostile version with its reason, reading nothing, and keeps serving version 1', async () => {
    const before = residentBytes(svc.child.pid!);
    await hostileVersion('2', async (_dir, m) => ({ ...m, file: '/dev/zero' }));
    await hostileVersion('3', async (_dir, m) => ({ ...m, file: '../../../../../../etc/passwd' }));
    await hostileVersion('4', async (dir, m) => {
      await symlink('/etc/hostname', path.join(dir, 'linked.onnx'));
      return { ...m, file: 'linked.onnx' };
    });
    await hostileVersion('5', async (dir) => {
      execFileSync('rm', [path.join(dir, 'manifest.json')]);
      execFileSync('mkfifo', [path.join(dir, 'manifest.json')]);
      return undefined;
    });
    await hostileVersion('6', async (dir, m) => {
      // 200 MB, sparse: nothing is written, the size is all that is there.
      const handle = await open(path.join(dir, 'golden', 'huge.png'), 'w');
      await handle.truncate(200 * MiB);
      await handle.close();
      return { ...m, golden: [{ file: 'golden/huge.png', label: 'Cat' }] };
    });
    const expected: Record<string, RegExp> = {
      '2': /^model file ".*dev\/zero" is outside the version folder$/,
      '3': /^model file ".*etc\/passwd" is outside the version folder$/,
      '4': /^model file is a symbolic link that leads outside the repository$/,
      '5': /^manifest\.json is not a regular file$/,
      '6': /^golden example golden\/huge\.png is 209715200 bytes, over the limit of 16777216$/,
    };
    await waitFor(async () => {
      const lines = await index();
      return Object.keys(expected).every((v) => lines.find((l) => l.version === v)?.state === 'UNAVAILABLE');
    }, 'every hostile version refused', { timeoutMs: 60_000, intervalMs: 200 });
    for (const [version, reason] of Object.entries(expected)) expect((await line(version))?.reason, `version ${version}`).to.match(reason);

    const { status, body } = await upload(svc.url, red);
    expect(status).to.equal(200);
    expect(body.model_version).to.equal('1');
    const grewMiB = (residentBytes(svc.child.pid!) - before) / MiB;
    expect(grewMiB, 'resident memory growth').to.be.below(100);

    // Nothing of what lies outside: no hash of /etc/passwd, no content of /etc/hostname.
    const passwdHash = createHash('sha256').update(await readFile('/etc/passwd')).digest('hex');
    const hostname = (await readFile('/etc/hostname', 'utf8')).trim();
    const seen = JSON.stringify(await index()) + svc.output();
    expect(seen).not.to.include(passwdHash);
    if (hostname.length > 3) expect(JSON.stringify(await index())).not.to.include(hostname);
  });

  it('still loads a good version published after them', async () => {
    await publishVersion(root, 'catdog', '7');
    await waitFor(async () => (await upload(svc.url, red)).body.model_version === '7', 'version 7 serves', { timeoutMs: 60_000, intervalMs: 200 });
  });
});
