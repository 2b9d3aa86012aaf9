/**
 * Issue 17, failure 3, on the real process with the memory settings of `deploy/` (its decode
 * budget and connection cap, and `MALLOC_ARENA_MAX=2`): images that decode at full size cannot
 * take the process past the pod's memory limit (`deploy/deployment.yaml`). Each
 * decode's memory is estimated from the header and counted against DECODE_MEMORY_BUDGET_MIB;
 * what does not fit waits or is refused (413 / 503), and the process keeps classifying.
 *
 * Before: one AVIF of 6000 × 6000 peaked at 871 MiB, eight at 2.8 GiB; sixteen progressive JPEGs
 * of 7000 × 5700 at 1.6 GiB.
 */
import { readFile } from 'node:fs/promises';
import { expect } from 'chai';
import { catImagePath } from '../fixtures/course-images.js';
import { largeAvif, largeProgressiveJpeg } from '../fixtures/costly-images.js';
import { deployMemory, type DeployMemory } from '../support/deploy.js';
import { sampleResidentMemory, spawnService, upload, type Answered, type SpawnedService } from '../support/process.js';

const MiB = 1024 * 1024;

function statuses(answers: readonly Answered[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const a of answers) counts[a.status] = (counts[a.status] ?? 0) + 1;
  return counts;
}

describe('issue 17: memory of large decodes (real process)', function () {
  this.timeout(300_000);
  let svc: SpawnedService;
  let cat: Buffer;
  let avif: Buffer;
  let jpeg: Buffer;
  let pod: DeployMemory;

  before(async () => {
    pod = await deployMemory();
    expect(pod.env).to.include({ MALLOC_ARENA_MAX: '2' });
    cat = await readFile(catImagePath);
    [avif, jpeg] = await Promise.all([largeAvif(), largeProgressiveJpeg()]);
    svc = await spawnService(pod.env);
    expect((await upload(svc.url, cat, 'cat.png')).status).to.equal(200);
  });
  after(() => svc.stop());

  it('answers eight 6000 × 6000 AVIFs, then sixteen 7000 × 5700 progressive JPEGs, all at once, under the pod\'s memory limit, and still classifies cat.png', async () => {
    const memory = sampleResidentMemory(svc.child.pid!);

    const avifs = await Promise.all(Array.from({ length: 8 }, () => upload(svc.url, avif, 'photo.avif')));
    // An upload refused before its body is read (over the address's connection budget, or its
    // client holding the most of a full large lane) is answered at once, while fetch (undici) is
    // still writing its 5 MB: in full runs of the suite fetch has reported some of those as a
    // broken pipe (EPIPE) instead of the 503, 1-3 of 16 (not reproduced alone). Those are counted
    // and named; what this test holds is the memory and that the process keeps classifying.
    const connectionErrors: string[] = [];
    const jpegs = (await Promise.all(Array.from({ length: 16 }, () => upload(svc.url, jpeg, 'photo.jpg').catch((err: Error) => {
      connectionErrors.push(String((err.cause as Error | undefined)?.message ?? err.message));
      return undefined;
    })))).filter((j): j is Answered => j !== undefined);
    if (connectionErrors.length > 0) console.log(`      ${connectionErrors.length} uploads ended by a connection error: ${connectionErrors.join('; ')}`);
    for (const e of connectionErrors) expect(e).to.match(/EPIPE|ECONNRESET|other side closed/);
    const { peakBytes, samples } = memory.stop();
    console.log(
      `      AVIF ${avif.length} B ×8: ${JSON.stringify(statuses(avifs))}; progressive JPEG ${jpeg.length} B ×16: ${JSON.stringify(statuses(jpegs))}; `
      + `peak resident ${(peakBytes / MiB).toFixed(0)} MiB (${samples} samples and VmHWM), limit ${pod.limitBytes / MiB} MiB, settings ${JSON.stringify(pod.env)}`,
    );

    // An 8-bit AVIF of 36 megapixels needs about 650 MiB to decode: more than one image may use.
    for (const a of avifs) {
      expect(a.status, JSON.stringify(a.body)).to.equal(413);
      expect(a.body.code).to.equal('image-too-large');
      expect(a.body.detail).to.match(/^Decoding this AVIF image of 6000x6000 pixels would need about \d+ MiB/);
    }
    // About 130 MiB each: decoded in turn, the excess refused at once with Retry-After, by the
    // large lane (`overloaded`) or, sixteen connections from one address being what deploy/'s
    // connection budget gives one address, by that budget (`too-many-connections`).
    for (const j of jpegs) {
      expect([200, 503], JSON.stringify(j.body)).to.include(j.status);
      if (j.status === 503) {
        expect(j.body.code).to.be.oneOf(['overloaded', 'too-many-connections']);
        expect(j.headers.get('retry-after')).to.match(/^\d+$/);
      }
    }
    expect(jpegs.filter((j) => j.status === 200).length, 'some classified').to.be.above(0);
    expect(peakBytes, 'peak resident memory').to.be.below(pod.limitBytes);

    const after = await upload(svc.url, cat, 'cat.png');
    expect(after.status).to.equal(200);
    expect(after.body.prediction).to.equal('Cat');
  });
});
