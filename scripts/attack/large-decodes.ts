/**
 * Issue 17, failure 3: images that decode at full size, sent all at once to a service with the
 * memory settings of deploy/ (its decode budget, connection cap and MALLOC_ARENA_MAX=2): eight
 * AVIFs of 6000 × 6000 (about 1.2 MB each, about 650 MiB each to decode), then sixteen progressive
 * JPEGs of 7000 × 5700 (about 5.5 MB, about 130 MiB each). Figures: the answers, and the peak
 * resident memory (sampled, and the kernel's VmHWM) against the pod's limit; for comparison, the
 * same with the decode budget and the large lane turned off.
 */
import { largeAvif, largeProgressiveJpeg } from '../../test/fixtures/costly-images.js';
import { deployMemory } from '../../test/support/deploy.js';
import { residentBytes, sampleResidentMemory, spawnService, upload } from '../../test/support/process.js';
import { attackers, catImage, describe, summarise, type Scenario } from './scenario.js';

const MiB = 1024 * 1024;

/** One run against a fresh process with `env`. */
async function measure(env: Record<string, string>, say: (line: string) => void): Promise<Record<string, unknown>> {
  const [avif, jpeg, cat] = await Promise.all([largeAvif(), largeProgressiveJpeg(), catImage()]);
  const svc = await spawnService(env);
  try {
    const pid = svc.child.pid!;
    const warm = await upload(svc.url, cat, 'cat.png');
    const startedMiB = Math.round(residentBytes(pid) / MiB);
    const memory = sampleResidentMemory(pid);
    const avifs = summarise(await attackers(svc.url, avif, 8, 0));
    say(`8 AVIFs 6000x6000 (${avif.length} B) at once:       ${describe(avifs)}`);
    const jpegs = summarise(await attackers(svc.url, jpeg, 16, 0));
    say(`16 progressive JPEGs 7000x5700 (${jpeg.length} B): ${describe(jpegs)}`);
    const { peakBytes } = memory.stop();
    const after = await upload(svc.url, cat, 'cat.png');
    const figures = {
      env,
      residentAfterWarmUpMiB: startedMiB,
      peakResidentMiB: Math.round(peakBytes / MiB),
      residentAfterMiB: Math.round(residentBytes(pid) / MiB),
      avifs,
      jpegs,
      catAfter: { status: after.status, prediction: after.body.prediction, warmStatus: warm.status },
    };
    say(`resident: ${figures.residentAfterWarmUpMiB} MiB after warm-up, peak ${figures.peakResidentMiB} MiB, ${figures.residentAfterMiB} MiB after; cat.png then: ${after.status} ${String(after.body.prediction)}`);
    return figures;
  } finally {
    await svc.stop();
  }
}

export const largeDecodes: Scenario = {
  name: 'large-decodes',
  summary: '8 AVIFs of 6000x6000 then 16 progressive JPEGs of 7000x5700 at once, deploy/ memory settings',
  async run(say) {
    const pod = await deployMemory();
    say(`deploy/: limit ${pod.limitBytes / MiB} MiB, ${Object.entries(pod.env).map(([k, v]) => `${k}=${v}`).join(' ')}`);
    const now = await measure({ ...pod.env }, say);
    const off = { ...pod.env, DECODE_MEMORY_BUDGET_MIB: '0', MAX_LARGE_DECODES: '64', MAX_LARGE_QUEUE: '128' };
    say('before the fix (DECODE_MEMORY_BUDGET_MIB=0 MAX_LARGE_DECODES=64 MAX_LARGE_QUEUE=128):');
    const before = await measure(off, say);
    return { podLimitMiB: pod.limitBytes / MiB, now, before };
  },
};
