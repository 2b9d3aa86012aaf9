/**
 * The loop, as the README shows it (issues 15 and 25): a service with capture on, polling its
 * model repository, is sent photos; some are labelled through `POST /feedback`, the others
 * through the Label Studio webhook (as tasks exported by `GET /captures?format=label-studio` and
 * annotated in Label Studio); `make train`'s script runs in another process on the development
 * photos and those captures, read from the SQLite file while the service writes it; `/upload`
 * then answers `"model_version":"2"` with no restart and no failed request. And the held-out
 * gate: captures labelled to make the new head worse on the held-out ones, and nothing is
 * published. The real default model, the real training script, a real identity provider, on a
 * copy of the repository and a capture folder of their own (the checkout's are left alone).
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cp, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { rootDir } from '../../src/spec.js';
import { HELD_OUT_SHARE, isHeldOut } from '../../tools/training/held-out.js';
import { catImagePath } from '../fixtures/course-images.js';
import { startIdentityProvider, type IdentityProvider } from '../fixtures/identity-provider.js';
import { createRepositoryDir, removeRepository } from '../fixtures/model-repository.js';
import { receive } from '../support/contract.js';
import { need } from '../support/external.js';
import { spawnService, type SpawnedService } from '../support/process.js';
import { waitFor } from '../support/wait.js';

const LABELS = ['Cat', 'Dog', 'Other'] as const;
/** Label Studio's image classification template. */
const LABEL_CONFIG = '<View><Image name="image" value="$image"/><Choices name="choice" toName="image"><Choice value="Cat"/><Choice value="Dog"/><Choice value="Other"/></Choices></View>';
const BASIC = `Basic ${Buffer.from('label-studio:a long connect secret').toString('base64')}`;

/** A development photo. */
interface Photo {
  readonly file: string;
  /** As the served labels spell it. */
  readonly label: (typeof LABELS)[number];
  readonly bytes: Buffer;
  readonly heldOut: boolean;
}

async function readPhotos(dir: string): Promise<Photo[]> {
  const entries = JSON.parse(await readFile(path.join(dir, 'labels.json'), 'utf8')) as { file: string; label: string }[];
  return Promise.all(entries.map(async ({ file, label }) => {
    const bytes = await readFile(path.join(dir, 'images', file));
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    return { file, label: LABELS.find((l) => l.toLowerCase() === label.toLowerCase())!, bytes, heldOut: isHeldOut(sha256, HELD_OUT_SHARE) };
  }));
}

/** `3 Cat, 0 Dog, 2 Other`, as make train prints counts. */
const counts = (labels: readonly string[]): string => LABELS.map((l) => `${labels.filter((x) => x === l).length} ${l}`).join(', ');

/** Runs `make train`'s script as the Makefile does, with `args`; its exit code and everything it wrote. */
function train(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/train.ts', ...args], { cwd: rootDir, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code) => resolve({ code, out }));
  });
}

describe('the loop: photos → captures → labels → make train → the next version, no restart (issues 15, 25)', function () {
  this.timeout(900_000);
  let photosDir: string;
  let photos: Photo[];
  let root: string;
  let captureDir: string;
  let idp: IdentityProvider | undefined;
  let svc: SpawnedService | undefined;
  let labeller: string;

  before(async function () {
    photosDir = need(this, 'photos');
    photos = await readPhotos(photosDir);
    root = await createRepositoryDir();
    await cp(path.join(rootDir, 'resources', 'models', 'repository', 'catdog', '1'), path.join(root, 'catdog', '1'), { recursive: true });
    captureDir = await mkdtemp(path.join(os.tmpdir(), 'cdo-train-loop-captures-'));
    idp = await startIdentityProvider({ accessTokenTtlSeconds: 3600 });
    svc = await spawnService({
      AUTH_DISABLED: 'false',
      OAUTH2_ISSUER: idp.issuer,
      OAUTH2_AUDIENCE: idp.audience,
      MODEL_REPOSITORY: root,
      MODEL_CONTROL: 'poll',
      MODEL_POLL_INTERVAL_MS: '1000',
      CAPTURE_SAMPLE_RATE: '1',
      CAPTURE_DIR: captureDir,
      LABEL_STUDIO_BACKEND_USER: 'label-studio',
      LABEL_STUDIO_BACKEND_PASSWORD: 'a long connect secret',
    });
    labeller = `Bearer ${await idp.token('labeller-client')}`;
  });
  after(async () => {
    await svc?.stop();
    await idp?.close();
    if (root) await removeRepository(root);
    if (captureDir) await rm(captureDir, { recursive: true, force: true });
  });

  /** Uploads `bytes` as the labeller; the answer. */
  async function upload(bytes: Uint8Array, headers: Record<string, string> = {}): Promise<{ status: number; id: string; version: unknown }> {
    const form = new FormData();
    form.append('file', new Blob([bytes]), 'photo');
    const res = await receive(`${svc!.url}/upload`, { method: 'POST', body: form, headers: { authorization: labeller, ...headers } });
    const body = res.body as { id?: string; model_version?: unknown };
    return { status: res.status, id: body.id ?? '', version: body.model_version };
  }

  async function feedback(id: string, label: string): Promise<void> {
    const res = await receive(`${svc!.url}/feedback`, {
      method: 'POST',
      headers: { authorization: labeller, 'content-type': 'application/json' },
      body: JSON.stringify({ id, label }),
    });
    expect(res.status, res.text).to.equal(204);
  }

  it('trains on the photos and the labelled captures, and serves version 2 without a restart or a failed request', async () => {
    // Uploads throughout, not captured (X-Capture: off), until version 2 has answered.
    const cat = await readFile(catImagePath);
    const answers: { status: number; version: unknown }[] = [];
    let training = true;
    const traffic = (async () => {
      while (training || answers.at(-1)?.version !== '2') {
        const { status, version } = await upload(cat, { 'x-capture': 'off' });
        answers.push({ status, version });
        if (answers.length > 100_000) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();

    // Every development photo sent once, and the course's cat.png (not one of them).
    const sent: { photo: Photo; id: string }[] = [];
    for (const photo of photos) {
      const answer = await upload(photo.bytes);
      expect(answer.status).to.equal(200);
      sent.push({ photo, id: answer.id });
    }
    const catAnswer = await upload(cat);
    expect(catAnswer.status).to.equal(200);

    // Half labelled through POST /feedback (cat.png too), the other half in "Label Studio".
    const byFeedback = sent.filter((_, i) => i % 2 === 0);
    const byLabelStudio = sent.filter((_, i) => i % 2 === 1);
    for (const { photo, id } of byFeedback) await feedback(id, photo.label);
    await feedback(catAnswer.id, 'Cat');
    const exported = await receive(`${svc!.url}/captures?labelled=false&format=label-studio&limit=1000`, { headers: { authorization: labeller } });
    expect(exported.status, exported.text).to.equal(200);
    const tasks = (exported.body as { data: { capture_id: string } }[]).map((t, i) => ({ ...t, id: 1000 + i }));
    expect(tasks.map((t) => t.data.capture_id)).to.have.members(byLabelStudio.map((s) => s.id));
    for (const task of tasks) {
      const { photo } = byLabelStudio.find((s) => s.id === task.data.capture_id)!;
      const res = await receive(`${svc!.url}/label-studio/webhook`, {
        method: 'POST',
        headers: { authorization: BASIC, 'content-type': 'application/json' },
        body: JSON.stringify({
          action: 'ANNOTATION_CREATED',
          project: { id: 1, label_config: LABEL_CONFIG },
          task,
          annotation: { id: task.id, result: [{ from_name: 'choice', to_name: 'image', type: 'choices', value: { choices: [photo.label] } }] },
        }),
      });
      expect(res.status, res.text).to.equal(201);
      expect(res.body).to.deep.equal({ status: 'ok', result: { capture_id: task.data.capture_id, label: photo.label } });
    }

    const { code, out } = await train(['--data', photosDir, '--captures', captureDir, '--repository', root]).finally(() => (training = false));
    expect(code, out).to.equal(0);
    const trained = [...photos.filter((p) => !p.heldOut).map((p) => p.label), 'Cat'];
    const heldOut = photos.filter((p) => p.heldOut).map((p) => p.label);
    expect(heldOut.length, 'the development photos give the gate something to judge on').to.be.above(0);
    expect(out).to.contain(`train: labelled captures in ${captureDir}: ${photos.length + 1} labelled answers, ${photos.length + 1} distinct photos`);
    expect(out).to.contain(`train:   from the captures, trained on: ${counts(trained)} (${trained.length} photos)`);
    expect(out).to.contain(`train:   held out (${HELD_OUT_SHARE} of them by SHA-256, never trained on): ${counts(heldOut)} (${heldOut.length} photos)`);
    expect(out).to.contain(`train:   development photos captured too: ${photos.length - heldOut.length} trained on with their capture's label (0 relabelled), ${heldOut.length} held out`);
    // The development photos held out are not trained on: cat.png takes the place of one.
    expect(out).to.contain(`train: ${photos.length - heldOut.length + 1} images (`);
    expect(out).to.match(/catdog version 1 \(serving\) +\d+\/\d+ right/);
    expect(out).to.contain('train: the new head is not worse than catdog version 1, the serving version');
    expect(out).to.match(/train: published catdog version 2 in /);
    // The drift's training reference (docs/evidence.md): the share of each label among the nested-CV predictions.
    const { reference } = JSON.parse(await readFile(path.join(root, 'catdog', '2', 'manifest.json'), 'utf8')) as {
      reference: { predicted: Record<string, number>; answers: number; source: string };
    };
    expect(Object.keys(reference.predicted)).to.deep.equal(['Cat', 'Dog', 'Other']);
    expect(Object.values(reference.predicted).reduce((a, b) => a + b, 0)).to.be.closeTo(1, 1e-9);
    expect(reference.source).to.match(/^nested 5-fold cross-validation predictions on the \d+ training photos$/);
    const head = JSON.parse(await readFile(path.join(root, 'catdog', '2', 'head.json'), 'utf8')) as { training: { captures: { perClass: Record<string, number> } } };
    expect(head.training.captures.perClass).to.deep.equal(Object.fromEntries(LABELS.map((l) => [l, trained.filter((x) => x === l).length])));

    await traffic;
    expect(new Set(answers.map((a) => a.status))).to.deep.equal(new Set([200]));
    expect(answers[0]!.version).to.equal('1');
    expect(answers.at(-1)!.version).to.equal('2');
    const switched = /"model":"catdog","version":"2","previous":"1"[^\n]*"msg":"model version serving"/;
    await waitFor(() => switched.test(svc!.output()), 'the log line of the switch to version 2');
  });

  it('publishes nothing when the new head is worse on the held-out captures than the serving version', async () => {
    // Cats and dogs sent again and labelled the wrong way round, except those held out: trained
    // on those labels, the new head swaps cats and dogs, which the held-out captures show.
    const before = (await readdir(path.join(root, 'catdog'))).sort();
    const serving = String(Math.max(...before.map(Number)));
    const swapped = { Cat: 'Dog', Dog: 'Cat', Other: 'Other' } as const;
    for (const photo of photos.filter((p) => p.label !== 'Other')) {
      const answer = await upload(photo.bytes);
      expect(answer.status).to.equal(200);
      await feedback(answer.id, photo.heldOut ? photo.label : swapped[photo.label]);
    }

    const { code, out } = await train(['--data', photosDir, '--captures', captureDir, '--repository', root]);
    expect(code, out).to.equal(3);
    expect(out).to.match(new RegExp(`train: not published: the new head is worse than catdog version ${serving}, the serving version, on the \\d+ held-out captures \\(\\d+ right against \\d+\\)\\. Nothing was written\\.`));
    expect(out).to.not.contain('published catdog version');
    expect((await readdir(path.join(root, 'catdog'))).sort(), 'no version, nothing half-written').to.deep.equal(before);
    const answer = await upload(await readFile(catImagePath), { 'x-capture': 'off' });
    expect(answer).to.deep.include({ status: 200, version: serving });
  });
});
