/**
 * The admission gate: bounded in flight, bounded queue in arrival order, immediate refusal
 * beyond, and waiting clients that go away give their place up.
 */
import { expect } from 'chai';
import { Overloaded } from '../../../src/errors.js';
import { createAdmission } from '../../../src/http/admission.js';

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
    const waiting = gate.run(async () => { ran = true; }, gone.signal);
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
});
