/** Which Label Studio task images come from: the settings pin it; a setup call fills in what they leave unset. */
import { expect } from 'chai';
import { createConnection } from '../../../../src/frontends/label-studio/connection.js';

describe('Label Studio connection', () => {
  it('knows no host before the settings or a setup name one', () => {
    expect(createConnection(undefined, undefined).current()).to.equal(undefined);
  });

  it('takes the host and key of the latest setup when LABEL_STUDIO_URL is unset', () => {
    const connection = createConnection(undefined, undefined);
    connection.setup('http://localhost:8080/', 'k1');
    expect(connection.current()).to.deep.equal({ origin: 'http://localhost:8080', apiKey: 'k1' });
    connection.setup('http://label-studio:8080', undefined);
    expect(connection.current()).to.deep.equal({ origin: 'http://label-studio:8080', apiKey: 'k1' });
    // Not an http(s) URL: the host stays.
    connection.setup('file:///etc', '');
    expect(connection.current()).to.deep.equal({ origin: 'http://label-studio:8080', apiKey: 'k1' });
  });

  it('keeps LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY whatever a setup says', () => {
    const connection = createConnection('http://label-studio:8080', 'configured');
    connection.setup('http://169.254.169.254', 'told');
    expect(connection.current()).to.deep.equal({ origin: 'http://label-studio:8080', apiKey: 'configured' });
    const keyless = createConnection('http://label-studio:8080', undefined);
    keyless.setup('http://elsewhere', 'told');
    expect(keyless.current()).to.deep.equal({ origin: 'http://label-studio:8080', apiKey: 'told' });
  });
});
