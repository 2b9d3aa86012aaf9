import { expect } from 'chai';
import { Batcher, type Scheduler } from '../../../src/model/batcher.js';

/** A runner whose batches the test finishes by hand, so that nothing depends on the clock. */
function manualRunner<O>() {
  const calls: { items: readonly number[]; finish: (values: readonly O[]) => void; fail: (err: Error) => void }[] = [];
  const run = (items: readonly number[]) =>
    new Promise<readonly O[]>((resolve, reject) => calls.push({ items, finish: resolve, fail: reject }));
  return { run, calls };
}

/** A scheduler whose timers the test fires by hand. */
function manualScheduler() {
  const timers: { fire: () => void; delayMs: number; cancelled: boolean }[] = [];
  const schedule: Scheduler = (callback, delayMs) => {
    const timer = { fire: callback, delayMs, cancelled: false };
    timers.push(timer);
    return () => {
      timer.cancelled = true;
    };
  };
  return { schedule, timers };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('Batcher', () => {
  it('runs a lone item at once when the model is idle and maxWaitMs is 0', async () => {
    const { run, calls } = manualRunner<string>();
    const batcher = new Batcher(run, { maxBatchSize: 8, maxWaitMs: 0 });
    const result = batcher.submit(1);
    expect(calls.map((c) => c.items)).to.deep.equal([[1]]);
    calls[0]!.finish(['one']);
    expect(await result).to.equal('one');
  });

  it('batches the items that arrive while the model is busy, up to maxBatchSize', async () => {
    const { run, calls } = manualRunner<number>();
    const batcher = new Batcher(run, { maxBatchSize: 3, maxWaitMs: 0 });
    const results = [1, 2, 3, 4, 5, 6].map((i) => batcher.submit(i));
    expect(calls.map((c) => c.items)).to.deep.equal([[1]]);
    expect(batcher.queued).to.equal(5);

    calls[0]!.finish([10]);
    await settle();
    expect(calls.map((c) => c.items)).to.deep.equal([[1], [2, 3, 4]]);
    calls[1]!.finish([20, 30, 40]);
    await settle();
    expect(calls.map((c) => c.items)).to.deep.equal([[1], [2, 3, 4], [5, 6]]);
    calls[2]!.finish([50, 60]);
    expect(await Promise.all(results)).to.deep.equal([10, 20, 30, 40, 50, 60]);
  });

  it('gives each caller its own row of the batch', async () => {
    const { run, calls } = manualRunner<string>();
    const batcher = new Batcher(run, { maxBatchSize: 4, maxWaitMs: 0 });
    const first = batcher.submit(0);
    const [a, b, c] = [7, 8, 9].map((i) => batcher.submit(i));
    calls[0]!.finish(['zero']);
    await settle();
    calls[1]!.finish(['seven', 'eight', 'nine']);
    expect(await Promise.all([first, c, a, b])).to.deep.equal(['zero', 'nine', 'seven', 'eight']);
  });

  it('runs as many batches at once as it has slots', async () => {
    const { run, calls } = manualRunner<number>();
    const batcher = new Batcher(run, { maxBatchSize: 2, maxWaitMs: 0, slots: 2 });
    for (const i of [1, 2, 3, 4, 5]) void batcher.submit(i);
    expect(calls.map((c) => c.items)).to.deep.equal([[1], [2]]);
    calls[1]!.finish([2]);
    await settle();
    expect(calls.map((c) => c.items)).to.deep.equal([[1], [2], [3, 4]]);
  });

  it('fails only the batch whose run failed, and keeps serving', async () => {
    const { run, calls } = manualRunner<number>();
    const batcher = new Batcher(run, { maxBatchSize: 4, maxWaitMs: 0 });
    const doomed = batcher.submit(1);
    const later = batcher.submit(2);
    calls[0]!.fail(new Error('model broke'));
    const err = await doomed.then(() => undefined, (e: Error) => e);
    expect(err?.message).to.equal('model broke');
    await settle();
    calls[1]!.finish([20]);
    expect(await later).to.equal(20);
  });

  it('rejects the batch when the runner returns the wrong number of results', async () => {
    const { run, calls } = manualRunner<number>();
    const batcher = new Batcher(run, { maxBatchSize: 4, maxWaitMs: 0 });
    const result = batcher.submit(1);
    calls[0]!.finish([1, 2]);
    const err = await result.then(() => undefined, (e: Error) => e);
    expect(err?.message).to.match(/2 results for 1 items/);
  });

  it('waits at most maxWaitMs for company when idle, then runs what it has', async () => {
    const { run, calls } = manualRunner<number>();
    const { schedule, timers } = manualScheduler();
    const batcher = new Batcher(run, { maxBatchSize: 4, maxWaitMs: 5, schedule });
    void batcher.submit(1);
    void batcher.submit(2);
    expect(calls).to.have.length(0);
    expect(timers.map((t) => t.delayMs)).to.deep.equal([5]);
    timers[0]!.fire();
    expect(calls.map((c) => c.items)).to.deep.equal([[1, 2]]);
  });

  it('does not wait once a batch is full', () => {
    const { run, calls } = manualRunner<number>();
    const { schedule, timers } = manualScheduler();
    const batcher = new Batcher(run, { maxBatchSize: 2, maxWaitMs: 1000, schedule });
    void batcher.submit(1);
    void batcher.submit(2);
    expect(calls.map((c) => c.items)).to.deep.equal([[1, 2]]);
    expect(timers.every((t) => t.cancelled)).to.equal(true);
  });

  it('refuses a batch size below 1', () => {
    expect(() => new Batcher(async (xs) => xs, { maxBatchSize: 0, maxWaitMs: 0 })).to.throw(RangeError);
  });
});

describe('Batcher priorities', () => {
  it('runs waiting high-priority items before any low one, each in arrival order', async () => {
    const { run, calls } = manualRunner<number>();
    const batcher = new Batcher(run, { maxBatchSize: 3, maxWaitMs: 0 });
    const low = [1, 2, 3, 4, 5].map((i) => batcher.submit(i, 'low'));
    expect(calls.map((c) => c.items)).to.deep.equal([[1]]);
    // Uploads arrive while the explanation's first batch runs.
    const high = [101, 102].map((i) => batcher.submit(i));
    calls[0]!.finish([1]);
    await settle();
    expect(calls[1]!.items, 'uploads alone, not topped up with background items').to.deep.equal([101, 102]);
    calls[1]!.finish([101, 102]);
    await settle();
    expect(calls[2]!.items).to.deep.equal([2, 3, 4]);
    calls[2]!.finish([2, 3, 4]);
    await settle();
    expect(calls[3]!.items).to.deep.equal([5]);
    calls[3]!.finish([5]);
    expect(await Promise.all(high)).to.deep.equal([101, 102]);
    expect(await Promise.all(low)).to.deep.equal([1, 2, 3, 4, 5]);
  });

  it('runs low-priority items in batches of maxLowBatchSize, so that an upload waits for one small batch at most', async () => {
    const { run, calls } = manualRunner<number>();
    const batcher = new Batcher(run, { maxBatchSize: 8, maxLowBatchSize: 2, maxWaitMs: 0 });
    for (let i = 0; i < 48; i++) void batcher.submit(i, 'low');
    expect(calls[0]!.items).to.deep.equal([0]);
    expect(batcher.queued).to.equal(47);
    const upload = batcher.submit(999);
    calls[0]!.finish([0]);
    await settle();
    expect(calls[1]!.items, 'the upload rides in the very next batch, alone').to.deep.equal([999]);
    calls[1]!.finish([999]);
    expect(await upload).to.equal(999);
    await settle();
    expect(calls[2]!.items).to.deep.equal([1, 2]);
  });

  it('with two slots, leaves one to the uploads while a client sent one within the last second, and takes both once none has', async () => {
    const { run, calls } = manualRunner<number>();
    let now = 0;
    const batcher = new Batcher(run, { maxBatchSize: 4, maxLowBatchSize: 1, maxWaitMs: 0, slots: 2, now: () => now });
    const first = batcher.submit(100, 'high', 'client');
    calls[0]!.finish([100]);
    expect(await first).to.equal(100);
    await settle();
    const low = [1, 2, 3, 4].map((i) => batcher.submit(i, 'low'));
    expect(calls.slice(1).map((c) => c.items), 'one explanation batch, one slot kept free').to.deep.equal([[1]]);
    const upload = batcher.submit(101, 'high', 'client');
    expect(calls[2]!.items, 'the next upload runs at once, beside the explanation').to.deep.equal([101]);
    calls[2]!.finish([101]);
    expect(await upload).to.equal(101);
    await settle();
    expect(calls, 'the freed slot stays the uploads\'').to.have.length(3);
    // A second after the client's last upload: the explanation takes both slots.
    now += 1_001;
    calls[1]!.finish([1]);
    await settle();
    expect(calls.slice(3).map((c) => c.items)).to.deep.equal([[2], [3]]);
    calls[3]!.finish([2]);
    calls[4]!.finish([3]);
    await settle();
    calls[5]!.finish([4]);
    expect(await Promise.all(low)).to.deep.equal([1, 2, 3, 4]);
  });

  it('with one slot, runs low batches while a client is present: background work is never starved', async () => {
    const { run, calls } = manualRunner<number>();
    const batcher = new Batcher(run, { maxBatchSize: 4, maxLowBatchSize: 1, maxWaitMs: 0, slots: 1, now: () => 0 });
    const first = batcher.submit(100, 'high', 'client');
    calls[0]!.finish([100]);
    await first;
    await settle();
    const low = batcher.submit(1, 'low');
    expect(calls[1]!.items).to.deep.equal([1]);
    calls[1]!.finish([1]);
    expect(await low).to.equal(1);
  });
});

describe('Batcher with several clients', () => {
  /** A batcher of 8 whose clock the test sets, and its runner. */
  function clocked() {
    const { run, calls } = manualRunner<number>();
    let now = 0;
    const batcher = new Batcher(run, { maxBatchSize: 8, maxWaitMs: 0, now: () => now });
    const finish = async (i: number): Promise<void> => {
      calls[i]!.finish(calls[i]!.items);
      await settle();
    };
    return { batcher, calls, finish, advance: (ms: number) => (now += ms) };
  }

  it('puts another client’s image in the next batch, with no more of a flood’s than of its own', async () => {
    const { batcher, calls, finish } = clocked();
    const flood = Array.from({ length: 64 }, (_, i) => batcher.submit(i, 'high', 'flood'));
    const upload = batcher.submit(1000, 'high', 'other');
    expect(calls[0]!.items).to.deep.equal([0]);
    await finish(0);
    // The flood's client came first in line; then the upload; then no more of the flood's than of the upload's.
    expect(calls[1]!.items).to.deep.equal([1, 1000]);
    await finish(1);
    expect(await upload).to.equal(1000);
    void flood;
  });

  it('takes one image at a time from a flood while another client that sent an image within a second waits for nothing', async () => {
    const { batcher, calls, finish, advance } = clocked();
    void batcher.submit(1000, 'high', 'other');
    const flood = Array.from({ length: 32 }, (_, i) => batcher.submit(i, 'high', 'flood'));
    await finish(0);
    // The other client's next image will wait for this batch: it holds one of the flood's.
    expect(calls[1]!.items).to.deep.equal([0]);
    advance(999);
    await finish(1);
    expect(calls[2]!.items).to.deep.equal([1]);
    // A second after its last image, the other client is gone: full batches again.
    advance(2);
    await finish(2);
    expect(calls[3]!.items).to.have.length(8);
    await finish(3);
    void flood;
  });

  it('splits batches evenly between clients that all keep images waiting', async () => {
    const { batcher, calls, finish } = clocked();
    const first = batcher.submit(0, 'high', 'a');
    const a = Array.from({ length: 16 }, (_, i) => batcher.submit(100 + i, 'high', 'a'));
    const b = Array.from({ length: 16 }, (_, i) => batcher.submit(200 + i, 'high', 'b'));
    await finish(0);
    expect(calls[1]!.items).to.deep.equal([100, 200, 101, 201, 102, 202, 103, 203]);
    expect(await first).to.equal(0);
    void a;
    void b;
  });

  it('fills batches from many clients, one image each, up to the batch size', async () => {
    const { batcher, calls, finish } = clocked();
    const first = batcher.submit(0, 'high', 'c0');
    for (let c = 1; c <= 10; c++) void batcher.submit(c, 'high', `c${c}`);
    await finish(0);
    expect(calls[1]!.items).to.deep.equal([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(await first).to.equal(0);
  });
});
