/**
 * Who a request is from: its verified token's subject, else its address as the connection budget
 * counts it (an IPv6 address by its /64).
 */
import { expect } from 'chai';
import { clientIdentity } from '../../../src/http/client-identity.js';

const token = (subject: string | undefined) => ({ anonymous: false, subject, claims: {}, scopes: new Set<string>() });

describe('client identity', () => {
  it('is the subject of the verified token, whatever the address', () => {
    expect(clientIdentity({ authorized: true, oauth2: token('alice') }, '10.0.0.7')).to.equal('token:alice');
    expect(clientIdentity({ authorized: true, bearerAuth: token('alice') }, '2001:db8::1')).to.equal('token:alice');
  });

  it('is the address without a token, an anonymous principal, a failed scheme or a token without subject', () => {
    expect(clientIdentity(undefined, '10.0.0.7')).to.equal('address:10.0.0.7');
    expect(clientIdentity({ authorized: true, oauth2: { anonymous: true } }, '::ffff:10.0.0.7')).to.equal('address:10.0.0.7');
    expect(clientIdentity({ authorized: false, oauth2: { error: new Error('no token') } }, '10.0.0.7')).to.equal('address:10.0.0.7');
    expect(clientIdentity({ authorized: true, oauth2: token(undefined) }, '10.0.0.7')).to.equal('address:10.0.0.7');
  });

  it('counts an IPv6 address by its /64, as the connection budget does', () => {
    expect(clientIdentity(undefined, '2001:db8:1:2:aaaa::1')).to.equal(clientIdentity(undefined, '2001:db8:1:2:bbbb::2'));
    expect(clientIdentity(undefined, '2001:db8:1:2::1')).to.equal('address:2001:db8:1:2::/64');
    expect(clientIdentity(undefined, '2001:db8:1:3::1')).to.not.equal(clientIdentity(undefined, '2001:db8:1:2::1'));
  });
});
