import { expect } from 'chai';
import { InvalidToken, TokenMissing } from '../../../src/errors.js';
import { extractBearerToken } from '../../../src/auth/bearer.js';

const token = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl';

function thrown(headers: Record<string, string | string[] | undefined>, query?: Record<string, unknown>): Error {
  try {
    extractBearerToken({ headers, query }, 'cat-dog-other');
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a refusal');
}

describe('auth/bearer extractBearerToken', () => {
  for (const scheme of ['Bearer', 'bearer', 'BEARER', 'bEaReR']) {
    it(`reads the token after the case-insensitive scheme "${scheme}"`, () => {
      expect(extractBearerToken({ headers: { authorization: `${scheme} ${token}` } }, 'r')).to.equal(token);
    });
  }

  it('tolerates several spaces and padding (b64token)', () => {
    expect(extractBearerToken({ headers: { authorization: `Bearer   abc+/~_-.==` } }, 'r')).to.equal('abc+/~_-.==');
  });

  it('answers TokenMissing, with no error code, when there is no Authorization header', () => {
    const error = thrown({});
    expect(error).to.be.instanceOf(TokenMissing);
    expect((error as TokenMissing).headers['WWW-Authenticate']).to.equal('Bearer realm="cat-dog-other"');
  });

  it('answers TokenMissing for another scheme (Basic)', () => {
    expect(thrown({ authorization: 'Basic dXNlcjpwYXNz' })).to.be.instanceOf(TokenMissing);
  });

  for (const value of ['Bearer', 'Bearer ', 'Bearer a b', 'Bearer a"b', 'Bearer a,b']) {
    it(`answers InvalidToken for a Bearer header without a b64token (${JSON.stringify(value)})`, () => {
      const error = thrown({ authorization: value }) as InvalidToken;
      expect(error).to.be.instanceOf(InvalidToken);
      expect(error.headers['WWW-Authenticate']).to.match(/^Bearer realm="cat-dog-other", error="invalid_token"/);
    });
  }

  it('refuses a token in the query string, with error="invalid_request" and without echoing it', () => {
    const error = thrown({}, { access_token: token }) as TokenMissing;
    expect(error).to.be.instanceOf(TokenMissing);
    expect(error.status).to.equal(401);
    expect(error.headers['WWW-Authenticate']).to.equal(
      'Bearer realm="cat-dog-other", error="invalid_request", error_description="Access tokens are not accepted in the query string"',
    );
    expect(JSON.stringify(error) + error.message).not.to.include(token);
  });

  it('refuses a query-string token even alongside a valid header (one method only, RFC 6750 §2)', () => {
    expect(thrown({ authorization: `Bearer ${token}` }, { access_token: token })).to.be.instanceOf(TokenMissing);
  });
});
