/**
 * Locating the key set by discovery (src/auth/issuer.ts) against a real identity provider, with
 * the locator's clock injected: the retry cooldown is stepped over, never slept through.
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
    const locator = createKeySetLocator({ issuer: idp.issuer, httpTimeoutMs: 5_000, retryCooldownMs: 30_000 });
    expect(locator.tokenEndpoint()).to.equal(undefined);
    expect((await locator.locate()).href).to.equal(idp.jwksUri);
    expect(locator.tokenEndpoint()).to.equal(idp.tokenEndpoint);
    await locator.locate();
    expect(idp.hits.discovery).to.equal(1);
  });

  it('asks a failed issuer again only once the retry cooldown is over, and recovers', async () => {
    let clock = 1_000_000;
    const locator = createKeySetLocator({ issuer: idp.issuer, httpTimeoutMs: 5_000, retryCooldownMs: 30_000, now: () => clock });
    idp.misbehave('fail');
    const first = await locator.locate().catch((error: unknown) => error);
    expect(first).to.be.instanceOf(KeySetUnreachable);
    expect(idp.hits.discovery).to.equal(1);

    idp.misbehave('serve');
    clock += 29_999;
    // Within the cooldown: the same failure, without asking the issuer.
    expect(await locator.locate().catch((error: unknown) => error)).to.equal(first);
    expect(idp.hits.discovery).to.equal(1);

    clock += 1;
    expect((await locator.locate()).href).to.equal(idp.jwksUri);
    expect(idp.hits.discovery).to.equal(2);
  });
});
