/**
 * When the issuer may be asked again (src/auth/retry-schedule.ts), with an injected clock.
 */
import { expect } from 'chai';
import { createRetrySchedule } from '../../../src/auth/retry-schedule.js';

describe('auth/retry-schedule', () => {
  let at: number;
  const now = (): number => at;
  beforeEach(() => {
    at = 1_000_000;
  });

  /** The waits of `failures` consecutive failures, each recorded as soon as it is due. */
  function waitsAfterFailures(schedule: ReturnType<typeof createRetrySchedule>, failures: number): number[] {
    const waits: number[] = [];
    for (let i = 0; i < failures; i++) {
      expect(schedule.due()).to.equal(true);
      schedule.failed();
      waits.push(schedule.waitMs());
      at += schedule.waitMs();
    }
    return waits;
  }

  it('is due at once, then backs off from the first wait, doubling up to the cooldown', () => {
    const schedule = createRetrySchedule({ cooldownMs: 30_000, backoffMs: 1_000, now });
    expect(waitsAfterFailures(schedule, 8)).to.deep.equal([1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000]);
  });

  it('is not due a millisecond before the wait is over', () => {
    const schedule = createRetrySchedule({ cooldownMs: 30_000, backoffMs: 1_000, now });
    schedule.failed();
    at += 999;
    expect([schedule.due(), schedule.waitMs()]).to.deep.equal([false, 1]);
    at += 1;
    expect([schedule.due(), schedule.waitMs()]).to.deep.equal([true, 0]);
  });

  it('waits a whole cooldown after a success, and starts the back-off over after it', () => {
    const schedule = createRetrySchedule({ cooldownMs: 30_000, backoffMs: 1_000, now });
    waitsAfterFailures(schedule, 4);
    schedule.succeeded();
    expect(schedule.waitMs()).to.equal(30_000);
    at += 30_000;
    expect(waitsAfterFailures(schedule, 2)).to.deep.equal([1_000, 2_000]);
  });

  it('never waits longer than the cooldown, even when the first wait is longer', () => {
    const schedule = createRetrySchedule({ cooldownMs: 500, backoffMs: 1_000, now });
    expect(waitsAfterFailures(schedule, 3)).to.deep.equal([500, 500, 500]);
  });

  it('stays bounded after very many failures', () => {
    const schedule = createRetrySchedule({ cooldownMs: 30_000, backoffMs: 1_000, now });
    expect(waitsAfterFailures(schedule, 2_000).at(-1)).to.equal(30_000);
  });
});
