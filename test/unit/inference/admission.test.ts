/**
 * The admission gate: bounded in flight, bounded queue in arrival order, immediate refusal
 * beyond, and waiting clients that go away give their place up; large images in a lane of their
 * own, and every running task's estimated memory within the budget; several clients served in
 * turn, a few slots kept from the one holding the most, a full queue shared fairly.
 */
import { expect } from 'chai';
import { Overloaded } from '../../../src/errors.js';
import { createAdmission } from '../../../src/inference/admission.js';
import { LARGE_DECODE_BYTES } from '../../../src/model/image/decode-cost.js';

/** A task that finishes when the test says so. */
function held<T>(value: T): { task: () => Promise<T>; finish: () => void; started: () => boolean } {
  let finish!: () => void;
  let started = false;
  const done = new Promise<void>((resolve) => (finish = resolve));
  return {
    task: async () => {
      started = true;
      await done;
      return value;
    },
    finish: () => finish(),
    started: () => started,
  };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('admission', () => {
  it('runs at most maxInflight tasks and queues the next maxQueue in arrival order', async () => {
    const gate = createAdmission({ maxInflight: 2, maxQueue: 2, retryAfterSeconds: 1 });
    const tasks = [0, 1, 2, 3].map((i) => held(i));
    const results = tasks.map((t) => gate.run(t.task));
    await tick();
    expect(tasks.map((t) => t.started())).to.deep.equal([true, true, false, false]);
    expect([gate.inflight, gate.queued]).to.deep.equal([2, 2]);
    tasks[1]!.finish();
    await tick();
    expect(tasks.map((t) => t.started())).to.deep.equal([true, true, true, false]);
    for (const t of tasks) t.finish();
    expect(await Promise.all(results)).to.deep.equal([0, 1, 2, 3]);
    expect([gate.inflight, gate.queued]).to.deep.equal([0, 0]);
  });

  it('refuses at once with 503 overloaded and Retry-After when the queue is full', async () => {
    const gate = createAdmission({ maxInflight: 1, maxQueue: 1, retryAfterSeconds: 7 });
    const a = held('a');
    const b = held('b');
    const running = [gate.run(a.task), gate.run(b.task)];
    const refused = await gate.run(async () => 'c').then(() => undefined, (e: unknown) => e);
    expect(refused).to.be.instanceOf(Overloaded);
    expect((refused as Overloaded).status).to.equal(503);
    expect((refused as Overloaded).headers['Retry-After']).to.equal('7');
    a.finish();
    b.finish();
    expect(await Promise.all(running)).to.deep.equal(['a', 'b']);
  });

  it('frees the slot when a task fails', async () => {
    const gate = createAdmission({ maxInflight: 1, maxQueue: 0, retryAfterSeconds: 1 });
    await gate.run(async () => { throw new Error('bad image'); }).catch(() => undefined);
    expect(await gate.run(async () => 'next')).to.equal('next');
  });

  it('drops a queued task whose client went away, without running it', async () => {
    const gate = createAdmission({ maxInflight: 1, maxQueue: 4, retryAfterSeconds: 1 });
    const first = held('first');
    const running = gate.run(first.task);
    const gone = new AbortController();
    let ran = false;
    const waiting = gate.run(async () => { ran = true; }, { signal: gone.signal });
    expect(gate.queued).to.equal(1);
    gone.abort(new Error('client closed the connection'));
    const err = await waiting.then(() => undefined, (e: unknown) => e);
    expect((err as Error).message).to.equal('client closed the connection');
    expect(gate.queued).to.equal(0);
    first.finish();
    await running;
    expect(ran).to.equal(false);
    expect(gate.inflight).to.equal(0);
  });

  describe('large images and the memory budget', () => {
    const MiB = 1024 * 1024;
    const large = 100 * MiB;
    const ordinary = 8 * MiB;
    const options = { maxInflight: 4, maxQueue: 8, retryAfterSeconds: 2, maxLargeInflight: 2, maxLargeQueue: 2, memoryBudgetBytes: 256 * MiB };

    it('keeps large images out of the slots of ordinary ones', async () => {
      const gate = createAdmission({ ...options, memoryBudgetBytes: 0 });
      const bigs = [0, 1, 2, 3].map((i) => held(`big${i}`));
      const running = bigs.map((t) => gate.run(t.task, { costBytes: large }));
      await tick();
      expect(bigs.map((t) => t.started())).to.deep.equal([true, true, false, false]);
      expect([gate.largeInflight, gate.largeQueued]).to.deep.equal([2, 2]);
      // Ordinary images do not wait behind them.
      expect(await gate.run(async () => 'cat', { costBytes: ordinary })).to.equal('cat');
      for (const t of bigs) t.finish();
      await Promise.all(running);
    });

    it('refuses a large image at once with 503 when its own queue is full, while ordinary ones still run', async () => {
      const gate = createAdmission({ ...options, memoryBudgetBytes: 0 });
      const bigs = [0, 1, 2, 3].map((i) => held(i));
      const running = bigs.map((t) => gate.run(t.task, { costBytes: large }));
      const refused = await gate.run(async () => 'late', { costBytes: large }).then(() => undefined, (e: unknown) => e);
      expect(refused).to.be.instanceOf(Overloaded);
      expect((refused as Overloaded).headers['Retry-After']).to.equal('2');
      expect((refused as Overloaded).detail).to.match(/large images/);
      expect(await gate.run(async () => 'cat')).to.equal('cat');
      for (const t of bigs) t.finish();
      await Promise.all(running);
    });

    it('starts a large image only when its estimate fits in the budget, leaving the reserve to ordinary ones', async () => {
      // 256 MiB: large decodes may hold 192 MiB together, so one of 100 MiB at a time.
      const gate = createAdmission(options);
      const first = held('first');
      const second = held('second');
      const a = gate.run(first.task, { costBytes: large });
      const b = gate.run(second.task, { costBytes: large });
      await tick();
      expect([first.started(), second.started()]).to.deep.equal([true, false]);
      expect(gate.memoryBytes).to.equal(large);
      // Ordinary images still find memory: the reserve and what the large ones leave.
      const ordinaries = [0, 1, 2, 3].map((i) => held(i));
      const small = ordinaries.map((t) => gate.run(t.task, { costBytes: LARGE_DECODE_BYTES }));
      await tick();
      expect(ordinaries.map((t) => t.started())).to.deep.equal([true, true, true, true]);
      expect(gate.memoryBytes).to.equal(large + 4 * LARGE_DECODE_BYTES);
      first.finish();
      await a;
      // 100 MiB freed; the second large one fits beside the ordinary ones (228 MiB of 256).
      await tick();
      expect(second.started()).to.equal(true);
      second.finish();
      for (const t of ordinaries) t.finish();
      await Promise.all([b, ...small]);
      expect(gate.memoryBytes).to.equal(0);
    });

    it('makes ordinary images wait for memory held by other ordinary ones, in arrival order', async () => {
      const gate = createAdmission({ ...options, maxInflight: 16, memoryBudgetBytes: 128 * MiB });
      const tasks = [0, 1, 2, 3, 4].map((i) => held(i));
      const results = tasks.map((t) => gate.run(t.task, { costBytes: LARGE_DECODE_BYTES }));
      await tick();
      expect(tasks.map((t) => t.started())).to.deep.equal([true, true, true, true, false]);
      tasks[0]!.finish();
      await tick();
      expect(tasks[4]!.started()).to.equal(true);
      for (const t of tasks) t.finish();
      expect(await Promise.all(results)).to.deep.equal([0, 1, 2, 3, 4]);
    });

    it('lets the next one start when a waiting client goes away', async () => {
      const gate = createAdmission({ ...options, maxLargeInflight: 1 });
      const first = held('first');
      const running = gate.run(first.task, { costBytes: large });
      const gone = new AbortController();
      const waiting = gate.run(async () => 'never', { costBytes: large, signal: gone.signal });
      const next = held('next');
      const after = gate.run(next.task, { costBytes: large });
      gone.abort(new Error('client closed the connection'));
      await waiting.catch(() => undefined);
      first.finish();
      await running;
      await tick();
      expect(next.started()).to.equal(true);
      next.finish();
      expect(await after).to.equal('next');
    });
  });

  describe('several clients', () => {
    it('takes the clients’ tasks in turn: another client’s upload waits for one of a 64-image batch, not for 64', async () => {
      const gate = createAdmission({ maxInflight: 1, maxQueue: 128, retryAfterSeconds: 1 });
      const order: string[] = [];
      const first = held('first');
      const running = gate.run(first.task, { client: 'flood' });
      const flood = Array.from({ length: 64 }, (_, i) => gate.run(async () => void order.push(`f${i}`), { client: 'flood' }));
      const upload = gate.run(async () => void order.push('upload'), { client: 'other' });
      first.finish();
      await Promise.all([running, ...flood, upload]);
      expect(order.indexOf('upload')).to.equal(1);
    });

    it('keeps 2 slots beyond 16 for clients holding fewer than 2, so that another starts at once', async () => {
      const gate = createAdmission({ maxInflight: 16, maxQueue: 128, retryAfterSeconds: 1 });
      const flood = Array.from({ length: 20 }, (_, i) => held(i));
      const running = flood.map((t) => gate.run(t.task, { client: 'flood' }));
      await tick();
      expect([gate.inflight, gate.queued]).to.deep.equal([16, 4]);
      const others = ['a', 'b', 'c'].map((i) => held(i));
      const other = others.map((t, i) => gate.run(t.task, { client: i < 2 ? 'other' : 'third' }));
      await tick();
      // 'other' takes both reserve slots (it held fewer than 2 each time); 'third' waits its turn.
      expect(others.map((t) => t.started())).to.deep.equal([true, true, false]);
      expect(gate.inflight).to.equal(18);
      for (const t of [...flood, ...others]) t.finish();
      await Promise.all([...running, ...other]);
    });

    it('keeps no slot beyond MAX_INFLIGHT below 8', async () => {
      const gate = createAdmission({ maxInflight: 4, maxQueue: 4, retryAfterSeconds: 1 });
      const tasks = [0, 1, 2, 3].map((i) => held(i));
      const running = tasks.map((t) => gate.run(t.task, { client: 'one' }));
      const late = held('late');
      const other = gate.run(late.task, { client: 'other' });
      await tick();
      expect([tasks.every((t) => t.started()), late.started()]).to.deep.equal([true, false]);
      for (const t of [...tasks, late]) t.finish();
      await Promise.all([...running, other]);
    });

    it('makes room in a full queue for a client holding fewer by refusing the newest task of the one holding the most', async () => {
      const gate = createAdmission({ maxInflight: 1, maxQueue: 3, retryAfterSeconds: 4 });
      const first = held('first');
      const running = gate.run(first.task, { client: 'flood' });
      const queued = [1, 2, 3].map((i) => gate.run(async () => i, { client: 'flood' }));
      // The flood's own next task finds no room.
      const own = await gate.run(async () => 'more', { client: 'flood' }).then(() => undefined, (e: unknown) => e);
      expect(own).to.be.instanceOf(Overloaded);
      // Another client's takes the place of the flood's newest, which is refused with Retry-After.
      const upload = gate.run(async () => 'upload', { client: 'other' });
      const displaced = await queued[2]!.then(() => undefined, (e: unknown) => e);
      expect(displaced).to.be.instanceOf(Overloaded);
      expect((displaced as Overloaded).headers['Retry-After']).to.equal('4');
      first.finish();
      expect(await Promise.all([running, queued[0], queued[1], upload])).to.deep.equal(['first', 1, 2, 'upload']);
    });

    it('tells before a request is read whether its tasks would be taken, as run decides', async () => {
      const gate = createAdmission({ maxInflight: 1, maxQueue: 2, retryAfterSeconds: 1 });
      expect(gate.accepts('flood', 3)).to.equal(true);
      expect(gate.accepts('flood', 4)).to.equal(false);
      const first = held('first');
      const running = gate.run(first.task, { client: 'flood' });
      const queued = [1, 2].map((i) => gate.run(async () => i, { client: 'flood' }));
      expect(gate.accepts('flood')).to.equal(false);
      // Another client would take a place of the flood's.
      expect(gate.accepts('other')).to.equal(true);
      first.finish();
      await Promise.all([running, ...queued]);
      expect(gate.accepts('flood', 3)).to.equal(true);
    });
  });
});
