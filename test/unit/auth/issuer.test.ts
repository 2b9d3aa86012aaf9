/**
 * Locating the key set by discovery (src/auth/issuer.ts) against a real identity provider. When a
 * failed discovery may be retried is the key set cache's schedule (test/unit/auth/key-set.test.ts).
 */
import { expect } from 'chai';
import { createKeySetLocator, KeySetUnreachable } from '../../../src/auth/issuer.js';
import { startIdentityProvider, type IdentityProvider } from '../../fixtures/identity-provider.js';

describe('auth/issuer: discovery of the key set', () => {
  let idp: IdentityProvider;
  beforeEach(async () => {
    idp = await startIdentityProvider();
  });
  afterEach(() => idp.close());

  it('discovers jwks_uri and the token endpoint once, then keeps them', async () => {
    const locator = createKeySetLocator({ issuer: idp.issuer, httpTimeoutMs: 5_000 });
    expect(locator.tokenEndpoint()).to.equal(undefined);
    expect((await locator.locate()).href).to.equal(idp.jwksUri);
    expect(locator.tokenEndpoint()).to.equal(idp.tokenEndpoint);
    await locator.locate();
    expect(idp.hits.discovery).to.equal(1);
  });

  it('sends one request for concurrent callers, and asks a failed issuer again at the next call', async () => {
    const locator = createKeySetLocator({ issuer: idp.issuer, httpTimeoutMs: 5_000 });
    idp.misbehave('fail');
    const failures = await Promise.all([1, 2, 3].map(() => locator.locate().catch((error: unknown) => error)));
    for (const failure of failures) expect(failure).to.be.instanceOf(KeySetUnreachable);
    expect(idp.hits.discovery).to.equal(1);

    idp.misbehave('serve');
    const found = await Promise.all([1, 2, 3].map(() => locator.locate()));
    expect(found.map((url) => url.href)).to.deep.equal([idp.jwksUri, idp.jwksUri, idp.jwksUri]);
    expect(idp.hits.discovery).to.equal(2);
  });
});
