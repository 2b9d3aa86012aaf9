/**
 * The fair queue: each client's items in their order, the clients in turn, one item each; a full
 * queue makes room by taking the newest item of the client holding the most, never of one
 * keeping to its share.
 */
import { expect } from 'chai';
import { createFairQueue } from '../../../src/model/fair-queue.js';

/** Shifts until empty. */
function drain<T>(queue: ReturnType<typeof createFairQueue<T>>): T[] {
  const out: T[] = [];
  for (let item = queue.shift(); item !== undefined; item = queue.shift()) out.push(item);
  return out;
}

describe('fair queue', () => {
  it('serves one client in its own order', () => {
    const queue = createFairQueue<number>();
    for (const i of [1, 2, 3]) queue.push('a', i);
    expect(queue.size).to.equal(3);
    expect(drain(queue)).to.deep.equal([1, 2, 3]);
    expect(queue.size).to.equal(0);
  });

  it('serves the clients in turn, one item each: a batch of 64 does not go before another client’s one item', () => {
    const queue = createFairQueue<string>();
    for (let i = 0; i < 64; i++) queue.push('flood', `f${i}`);
    queue.push('other', 'o0');
    const served = drain(queue);
    expect(served.indexOf('o0')).to.equal(1);
    expect(served.filter((s) => s.startsWith('f'))).to.deep.equal(Array.from({ length: 64 }, (_, i) => `f${i}`));
  });

  it('puts a client that had nothing waiting behind those waiting now, then alternates', () => {
    const queue = createFairQueue<string>();
    queue.push('a', 'a1');
    queue.push('a', 'a2');
    queue.push('b', 'b1');
    queue.push('b', 'b2');
    expect(queue.shift()).to.equal('a1');
    queue.push('c', 'c1');
    expect(drain(queue)).to.deep.equal(['b1', 'a2', 'c1', 'b2']);
  });

  it('counts items and clients, and the fewest a client has waiting', () => {
    const queue = createFairQueue<number>();
    expect([queue.size, queue.clients, queue.fewest]).to.deep.equal([0, 0, 0]);
    for (const i of [1, 2, 3]) queue.push('a', i);
    queue.push('b', 4);
    expect([queue.size, queue.clients, queue.fewest, queue.sizeOf('a'), queue.sizeOf('b'), queue.sizeOf('c')]).to.deep.equal([4, 2, 1, 3, 1, 0]);
  });

  it('skips the clients that may not take an item now, who keep their turn', () => {
    const queue = createFairQueue<string>();
    queue.push('a', 'a1');
    queue.push('b', 'b1');
    queue.push('b', 'b2');
    const notA = (client: string): boolean => client !== 'a';
    expect(queue.peek(notA)).to.equal('b1');
    expect(queue.shift(notA)).to.equal('b1');
    expect(queue.peek(() => false)).to.equal(undefined);
    expect(drain(queue)).to.deep.equal(['a1', 'b2']);
  });

  it('removes an item that gave up, and a client left with none', () => {
    const queue = createFairQueue<string>();
    queue.push('a', 'a1');
    queue.push('b', 'b1');
    expect(queue.delete('a', 'a1')).to.equal(true);
    expect(queue.delete('a', 'a1')).to.equal(false);
    expect([queue.size, queue.clients]).to.deep.equal([1, 1]);
    expect(drain(queue)).to.deep.equal(['b1']);
  });

  describe('making room when full', () => {
    it('takes the newest item of the client holding the most for a client holding fewer', () => {
      const queue = createFairQueue<string>();
      for (let i = 0; i < 4; i++) queue.push('flood', `f${i}`);
      expect(queue.canDisplace('other')).to.equal(true);
      expect(queue.displace('other')).to.equal('f3');
      queue.push('other', 'o0');
      expect(queue.sizeOf('flood')).to.equal(3);
    });

    it('never takes from a client that would then hold fewer than the newcomer', () => {
      const queue = createFairQueue<string>();
      queue.push('a', 'a1');
      queue.push('a', 'a2');
      queue.push('b', 'b1');
      // a holds 2, b 1: b's newcomer would make them 1 and 2.
      expect(queue.canDisplace('b')).to.equal(false);
      expect(queue.displace('b')).to.equal(undefined);
      // A client holding nothing may take a's second place: 1 and 1.
      expect(queue.displace('c')).to.equal('a2');
      expect(queue.size).to.equal(2);
    });

    it('never takes from the client asking, nor from an empty queue', () => {
      const queue = createFairQueue<string>();
      expect(queue.displace('a')).to.equal(undefined);
      for (let i = 0; i < 3; i++) queue.push('a', `a${i}`);
      expect(queue.displace('a')).to.equal(undefined);
    });
  });
});
