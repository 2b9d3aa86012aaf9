/**
 * Issue 17, failure 2, on the real process with its default settings: small files that cost
 * seconds to decode cannot stall the decoders. A progressive JPEG of 6000 × 6000 pixels and 2,000
 * empty scans (190 KB, about 10 s of decoding) is refused from its markers; costly images that
 * are accepted are decoded in a lane of their own, so that ordinary uploads keep their pace.
 *
 * The bounds are the issue's: bombs answered within 5 s each, cat.png within 1.5 s meanwhile.
 */
import { readFile } from 'node:fs/promises';
import { expect } from 'chai';
import { catImagePath } from '../fixtures/course-images.js';
import { scanBombJpeg } from '../fixtures/costly-images.js';
import { spawnService, upload, type Answered, type SpawnedService } from '../support/process.js';

const BOMB_BOUND_MS = 5_000;
const CAT_BOUND_MS = 1_500;
const CAT_EVERY_MS = 400;

/**
 * Uploads cat.png every {@link CAT_EVERY_MS} (each after the previous one's answer) until
 * `until` settles, and at least `minimum` times; returns every answer.
 */
async function catsDuring(url: string, cat: Buffer, until: Promise<unknown>, minimum: number): Promise<Answered[]> {
  let done = false;
  void until.finally(() => (done = true));
  const answers: Answered[] = [];
  while (!done || answers.length < minimum) {
    const next = new Promise((resolve) => setTimeout(resolve, CAT_EVERY_MS));
    answers.push(await upload(url, cat, 'cat.png'));
    await next;
  }
  return answers;
}

function expectCatsOnTime(cats: readonly Answered[]): void {
  for (const cat of cats) {
    expect(cat.status, JSON.stringify(cat.body)).to.equal(200);
    expect(cat.body.prediction).to.equal('Cat');
  }
  const slowest = Math.max(...cats.map((c) => c.ms));
  expect(slowest, `slowest cat.png answer of ${cats.length}`).to.be.below(CAT_BOUND_MS);
}

describe('issue 17: small files that stall the decoders (real process)', function () {
  this.timeout(180_000);
  let svc: SpawnedService;
  let cat: Buffer;

  before(async () => {
    cat = await readFile(catImagePath);
    svc = await spawnService({});
    // A first classification warms the decoders up.
    expect((await upload(svc.url, cat, 'cat.png')).status).to.equal(200);
  });
  after(() => svc.stop());

  it('answers four 2,000-scan JPEG bombs at once with 422 image-too-complex within 5 s each, while cat.png keeps answering within 1.5 s', async () => {
    const bomb = await scanBombJpeg();
    expect(bomb.length).to.be.within(150_000, 250_000);
    const bombs = Promise.all(Array.from({ length: 4 }, () => upload(svc.url, bomb, 'bomb.jpg')));
    const cats = catsDuring(svc.url, cat, bombs, 3);
    for (const answer of await bombs) {
      expect(answer.status, JSON.stringify(answer.body)).to.equal(422);
      expect(answer.body.code).to.equal('image-too-complex');
      expect(answer.body.detail).to.match(/more than \d+ scans/);
      expect(answer.ms).to.be.below(BOMB_BOUND_MS);
    }
    expectCatsOnTime(await cats);
  });

  it('decodes costly JPEGs just under the scan limit in the large lane, while cat.png keeps answering within 1.5 s', async () => {
    // 100 scans over 36 megapixels: about a second of decoding each, accepted.
    const heavy = await scanBombJpeg({ scans: 99 });
    const started = performance.now();
    const heavies = Promise.all(Array.from({ length: 4 }, () => upload(svc.url, heavy, 'heavy.jpg')));
    const cats = await catsDuring(svc.url, cat, heavies, 3);
    const answers = await heavies;
    const lastHeavyMs = Math.max(...answers.map((a) => a.ms));
    for (const answer of answers) {
      // Classified, or refused at once when the large lane's queue is full: never a stall.
      expect([200, 503], JSON.stringify(answer.body)).to.include(answer.status);
    }
    expect(answers.filter((a) => a.status === 200).length).to.be.above(0);
    // The cats really ran beside the decodes.
    expect(cats.length).to.be.at.least(Math.min(3, Math.floor(lastHeavyMs / CAT_EVERY_MS)));
    expect(performance.now() - started).to.be.at.least(lastHeavyMs);
    expectCatsOnTime(cats);
  });
});
