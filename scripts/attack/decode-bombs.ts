/**
 * Issue 17, failure 2: progressive JPEGs of 6000 × 6000 pixels made of empty scans (about 190 KB
 * for 2,000 scans, about 10 s of decoding each) sent by four clients in a loop, while a legitimate
 * client uploads cat.png every 0.4 s. Figures: cat.png's latency alone, during the 2,000-scan
 * attack (refused from their markers), during an attack of 99-scan files (under the limit:
 * decoded, in the large lane), and, for comparison, during four 2,000-scan files decoded as
 * before the fix (scan limit and large lane turned off by settings).
 */
import { scanBombJpeg } from '../../test/fixtures/costly-images.js';
import { spawnService } from '../../test/support/process.js';
import { attackers, catsDuring, describe, summarise, type Scenario } from './scenario.js';

const ATTACK_MS = 10_000;
const CLIENTS = 4;

/** The guards turned off: every scan decoded, every large decode at once, no memory budget. */
const BEFORE = { JPEG_MAX_SCANS: '10000', MAX_LARGE_DECODES: '64', DECODE_MEMORY_BUDGET_MIB: '0' };

export const decodeBombs: Scenario = {
  name: 'decode-bombs',
  summary: `${CLIENTS} clients sending progressive JPEGs of empty scans, cat.png every 0.4 s`,
  async run(say) {
    const bomb = await scanBombJpeg();
    const heavy = await scanBombJpeg({ scans: 99 });
    say(`bomb: 6000x6000, 2,000 empty scans, ${bomb.length} bytes; heavy: 99 scans, ${heavy.length} bytes`);

    const svc = await spawnService({});
    let figures: Record<string, unknown>;
    try {
      const calm = summarise(await catsDuring(svc.url, Promise.resolve(), 400, 20));
      say(`cat.png alone:                        ${describe(calm)}`);

      const bombs = attackers(svc.url, bomb, CLIENTS, ATTACK_MS);
      const duringBombs = summarise(await catsDuring(svc.url, bombs));
      const bombAnswers = summarise(await bombs);
      say(`2,000-scan bombs (${CLIENTS} loops, ${ATTACK_MS / 1000} s): ${describe(bombAnswers)}`);
      say(`cat.png meanwhile:                    ${describe(duringBombs)}`);

      const heavies = attackers(svc.url, heavy, CLIENTS, ATTACK_MS);
      const duringHeavies = summarise(await catsDuring(svc.url, heavies));
      const heavyAnswers = summarise(await heavies);
      say(`99-scan files (${CLIENTS} loops, ${ATTACK_MS / 1000} s):   ${describe(heavyAnswers)}`);
      say(`cat.png meanwhile:                    ${describe(duringHeavies)}`);
      figures = { calm, bombs: bombAnswers, catDuringBombs: duringBombs, heavies: heavyAnswers, catDuringHeavies: duringHeavies };
    } finally {
      await svc.stop();
    }

    say(`before the fix (${Object.entries(BEFORE).map(([k, v]) => `${k}=${v}`).join(' ')}): one bomb per client`);
    const before = await spawnService(BEFORE);
    try {
      const bombs = attackers(before.url, bomb, CLIENTS, 0);
      const during = summarise(await catsDuring(before.url, bombs));
      const answers = summarise(await bombs);
      say(`2,000-scan bombs decoded:             ${describe(answers)}`);
      say(`cat.png meanwhile:                    ${describe(during)}`);
      return { ...figures, before: { settings: BEFORE, bombs: answers, catDuringBombs: during } };
    } finally {
      await before.stop();
    }
  },
};
