/**
 * The evidence per version in the real process (`src/main.ts` on the checkout's model repository,
 * issue 26 item 3): its settings come from the environment (`EVIDENCE_WINDOW_ANSWERS`,
 * `EVIDENCE_LOW_CONFIDENCE`), only dog photos move the drift past its alert threshold within the
 * window, `/metrics` says the same, and a version without a training reference (the zero-shot
 * `imagenet-grouped`) measures no drift. Needs `TRAIN_DATA`'s photos (skipped without them).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'chai';
import { readLabelledFolder } from '../../tools/evaluate.js';
import { need } from '../support/external.js';
import { spawnService, upload, type SpawnedService } from '../support/process.js';

interface Evidence {
  name: string;
  versions: { version: string; answers: Record<string, number>; confidence: { low_threshold: number }; drift: { window_size: number; window_answers: number; reference: unknown; psi: number | null; alert_psi: number } }[];
}

const WINDOW = 30;

describe('evidence per version in the real process (issue 26, item 3)', function () {
  this.timeout(180_000);
  let svc: SpawnedService | undefined;
  let dogs: string[];

  before(async function () {
    dogs = (await readLabelledFolder(need(this, 'photos'))).filter((p) => p.label.toLowerCase() === 'dog').map((p) => p.file);
    svc = await spawnService({ EVIDENCE_WINDOW_ANSWERS: String(WINDOW), EVIDENCE_LOW_CONFIDENCE: '0.7', METRICS_PUBLIC: 'true' });
  });
  after(async () => {
    await svc?.stop();
  });

  const evidence = async (model: string): Promise<Evidence['versions'][number]> => {
    const res = await fetch(`${svc!.url}/v2/repository/models/${model}/evidence`);
    expect(res.status).to.equal(200);
    return ((await res.json()) as Evidence).versions[0]!;
  };

  it('drifts past the alert threshold within the window on only dog photos, as /metrics says too', async () => {
    const start = await evidence('catdog');
    expect(start.drift).to.include({ window_size: WINDOW, window_answers: 0, psi: null });
    expect(start.confidence.low_threshold).to.equal(0.7);
    for (const file of dogs.slice(0, WINDOW)) {
      const res = await upload(svc!.url, await readFile(file), path.basename(file));
      expect(res.status).to.equal(200);
    }
    const after = await evidence('catdog');
    expect(after.drift.window_answers).to.equal(WINDOW);
    expect(after.drift.psi).to.be.greaterThan(after.drift.alert_psi);
    const metrics = await (await fetch(`${svc!.url}/metrics`)).text();
    const psi = /^catdog_model_drift_psi\{model="catdog",version="1"\} (\S+)$/m.exec(metrics)?.[1];
    expect(Number(psi)).to.be.closeTo(after.drift.psi!, 1e-12);
    expect(metrics).to.match(new RegExp(`^catdog_model_answers_total\\{model="catdog",version="1",label="Dog"\\} ${after.answers.Dog}$`, 'm'));
  });

  it('measures no drift for a version without a training reference', async () => {
    const dog = await readFile(dogs[0]!);
    for (let i = 0; i < WINDOW; i++) expect((await upload(svc!.url, dog, 'dog.png', '?model=imagenet-grouped')).status).to.equal(200);
    const zeroShot = await evidence('imagenet-grouped');
    expect(zeroShot.drift).to.include({ window_answers: WINDOW, reference: null, psi: null });
    expect(await (await fetch(`${svc!.url}/metrics`)).text()).to.not.contain('catdog_model_drift_psi{model="imagenet-grouped"');
  });
});
