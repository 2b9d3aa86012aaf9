/**
 * libuv's threads shared fairly: at most so many calls at once, the waiting ones by client in
 * turn, a slot given back whatever the call did.
 */
import { expect } from 'chai';
import { createFairSlots } from '../../../src/model/image-threads.js';

const tick = () => new Promise((resolve) => setImmediate(resolve));

/** A call that finishes when the test says so. */
function held(label: string, order: string[]) {
  let finish!: () => void;
  const done = new Promise<void>((resolve) => (finish = resolve));
  return {
    task: async () => {
      order.push(label);
      await done;
      return label;
    },
    finish: () => finish(),
  };
}

describe('image threads', () => {
  it('runs at most its slots at once, and another client’s call after one of a flood’s', async () => {
    const slots = createFairSlots(2);
    const order: string[] = [];
    const flood = Array.from({ length: 10 }, (_, i) => held(`f${i}`, order));
    const running = flood.map((c) => slots.run('flood', c.task));
    const other = held('other', order);
    const mine = slots.run('other', other.task);
    await tick();
    expect([slots.running, slots.waiting]).to.deep.equal([2, 9]);
    flood[0]!.finish();
    await tick();
    flood[1]!.finish();
    await tick();
    expect(order.slice(0, 4)).to.deep.equal(['f0', 'f1', 'f2', 'other']);
    for (const c of [...flood, other]) c.finish();
    await Promise.all([...running, mine]);
    expect([slots.running, slots.waiting]).to.deep.equal([0, 0]);
  });

  it('gives the slot back when a call fails, even at once', async () => {
    const slots = createFairSlots(1);
    await slots.run('a', () => { throw new Error('bad header'); }).catch(() => undefined);
    await slots.run('a', () => Promise.reject(new Error('bad image'))).catch(() => undefined);
    expect(await slots.run(undefined, async () => 'next')).to.equal('next');
    expect(slots.running).to.equal(0);
  });
});
