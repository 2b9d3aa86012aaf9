/**
 * The connection budget's rules (issue 17): a cap in total, a cap per client address, and a
 * reserve that greedy addresses cannot take.
 */
import { expect } from 'chai';
import { clientKey, createConnectionBudget } from '../../../src/http/connection-budget.js';

describe('connection budget', () => {
  describe('clientKey', () => {
    it('counts IPv4 addresses as they are, also IPv4-mapped on an IPv6 socket', () => {
      expect(clientKey('127.0.0.2')).to.equal('127.0.0.2');
      expect(clientKey('::ffff:10.1.2.3')).to.equal('10.1.2.3');
    });

    it('counts IPv6 addresses by their /64, however they are written', () => {
      const key = clientKey('2001:db8:1:2::1');
      expect(key).to.equal('2001:db8:1:2::/64');
      expect(clientKey('2001:0db8:0001:0002:ffff:eeee:dddd:cccc')).to.equal(key);
      expect(clientKey('2001:db8:1:2:0:0:0:2%eth0')).to.equal(key);
      expect(clientKey('2001:db8:1:3::1')).to.not.equal(key);
      expect(clientKey('::1')).to.equal('0:0:0:0::/64');
    });
  });

  it('refuses an address beyond its cap, and admits another address', () => {
    const budget = createConnectionBudget({ maxConnections: 10, maxPerAddress: 2, reserve: 2 });
    expect(budget.admit('10.0.0.1').admitted).to.equal(true);
    expect(budget.admit('10.0.0.1').admitted).to.equal(true);
    expect(budget.admit('10.0.0.1')).to.include({ admitted: false, scope: 'address' });
    expect(budget.admit('10.0.0.2').admitted).to.equal(true);
    expect(budget.open).to.equal(3);
  });

  it('keeps the reserve for addresses holding fewer than half of it', () => {
    const budget = createConnectionBudget({ maxConnections: 8, maxPerAddress: 8, reserve: 4 });
    for (let i = 0; i < 4; i++) expect(budget.admit('10.0.0.1').admitted, `greedy #${i + 1}`).to.equal(true);
    // Four open = 8 - 4: the reserve begins, and 10.0.0.1 holds more than 4 / 2.
    expect(budget.admit('10.0.0.1')).to.include({ admitted: false, scope: 'server' });
    expect(budget.admit('10.0.0.2').admitted).to.equal(true);
    expect(budget.admit('10.0.0.2').admitted).to.equal(true);
    expect(budget.admit('10.0.0.2')).to.include({ admitted: false, scope: 'server' });
    expect(budget.admit('10.0.0.3').admitted).to.equal(true);
    expect(budget.admit('10.0.0.4').admitted).to.equal(true);
    expect(budget.open).to.equal(8);
    expect(budget.admit('10.0.0.5')).to.include({ admitted: false, scope: 'server' });
  });

  it('gives a slot back once, however often it is released', () => {
    const budget = createConnectionBudget({ maxConnections: 1, maxPerAddress: 1, reserve: 0 });
    const first = budget.admit('10.0.0.1');
    expect(budget.admit('10.0.0.2').admitted).to.equal(false);
    if (!first.admitted) throw new Error('not admitted');
    first.release();
    first.release();
    expect(budget.open).to.equal(0);
    expect(budget.heldBy('10.0.0.1')).to.equal(0);
    expect(budget.admit('10.0.0.2').admitted).to.equal(true);
    expect(budget.admit('10.0.0.3').admitted).to.equal(false);
  });
});
