import { expect } from 'chai';
import { grantedScopes, satisfiesAny } from '../../../src/auth/scopes.js';

describe('auth/scopes', () => {
  describe('grantedScopes', () => {
    it('splits `scope` on spaces', () => {
      expect([...grantedScopes({ scope: 'get::prediction  openid' })]).to.deep.equal(['get::prediction', 'openid']);
    });
    it('reads `scp` as an array or as a space-separated string', () => {
      expect([...grantedScopes({ scp: ['a', 'b'] })]).to.deep.equal(['a', 'b']);
      expect([...grantedScopes({ scp: 'a b' })]).to.deep.equal(['a', 'b']);
    });
    it('reads `permissions` (Auth0 RBAC)', () => {
      expect([...grantedScopes({ permissions: ['get::prediction'] })]).to.deep.equal(['get::prediction']);
    });
    it('unites the three claims', () => {
      expect([...grantedScopes({ scope: 'a', scp: ['b'], permissions: ['c', 'a'] })].sort()).to.deep.equal(['a', 'b', 'c']);
    });
    it('ignores unrelated claims and non-string values', () => {
      const claims = { roles: ['get::prediction'], 'https://x/scope': 'get::prediction', scope: 42, scp: [1, null], permissions: {} };
      expect(grantedScopes(claims).size).to.equal(0);
    });
  });

  describe('satisfiesAny', () => {
    const granted = new Set(['a', 'b']);
    it('needs every scope of one alternative', () => {
      expect(satisfiesAny(granted, [['a', 'b']])).to.equal(true);
      expect(satisfiesAny(granted, [['a', 'c']])).to.equal(false);
      expect(satisfiesAny(granted, [['a', 'c'], ['b']])).to.equal(true);
    });
    it('is satisfied by an alternative without scopes', () => {
      expect(satisfiesAny(new Set(), [[]])).to.equal(true);
    });
  });
});
