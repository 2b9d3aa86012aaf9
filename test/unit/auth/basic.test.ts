/** HTTP Basic credentials (RFC 7617) as Label Studio sends them. */
import { expect } from 'chai';
import { basicCredentialsMatch } from '../../../src/auth/basic.js';

const header = (userPass: string, scheme = 'Basic'): string => `${scheme} ${Buffer.from(userPass, 'utf8').toString('base64')}`;

describe('Basic credentials', () => {
  const expected = { user: 'label-studio', password: 'pä:ss' };

  it('matches the user and the password (a password may hold colons and non-ASCII), the scheme in any case', () => {
    expect(basicCredentialsMatch(header('label-studio:pä:ss'), expected)).to.equal(true);
    expect(basicCredentialsMatch(header('label-studio:pä:ss', 'basic'), expected)).to.equal(true);
  });

  it('refuses another user or password, no colon, and what is not Basic', () => {
    expect(basicCredentialsMatch(header('label-studio:pa:ss'), expected)).to.equal(false);
    expect(basicCredentialsMatch(header('label-studiO:pä:ss'), expected)).to.equal(false);
    expect(basicCredentialsMatch(header('label-studio'), expected)).to.equal(false);
    expect(basicCredentialsMatch('Basic not base64!', expected)).to.equal(false);
    expect(basicCredentialsMatch(header('label-studio:pä:ss', 'Bearer'), expected)).to.equal(false);
  });
});
