/**
 * The one-version repository of MODEL_MANIFEST: it serves its model under the name it was given,
 * as version 1, and refuses any other name or version the way the full repository does.
 */
import { expect } from 'chai';
import { ModelNotFound, ModelUnavailable } from '../../../src/errors.js';
import type { Classifier } from '../../../src/model/classifier.js';
import type { Manifest } from '../../../src/model/manifest.js';
import { createStaticRepository } from '../../../src/repository/static.js';

function fakeClassifier(): Classifier & { readonly closed: () => boolean } {
  let closed = false;
  const classifier = {
    name: 'fixture',
    sha256: '0'.repeat(64),
    labels: ['Cat', 'Dog', 'Other'],
    int8Weights: 'none',
    health: () => 'ok',
    failed: new Promise<Error>(() => {}),
    inspect: () => Promise.reject(new Error('not used')),
    classify: () => Promise.reject(new Error('not used')),
    close: () => {
      closed = true;
      return Promise.resolve();
    },
    closed: () => closed,
  };
  return classifier as unknown as Classifier & { readonly closed: () => boolean };
}

describe('static repository (MODEL_MANIFEST)', () => {
  const manifest = { name: 'fixture' } as Manifest;

  it('leases its model as version 1 by name, with or without the version', () => {
    const repository = createStaticRepository({ name: 'catdog', manifest, classifier: fakeClassifier() });
    expect(repository.defaultModel).to.equal('catdog');
    for (const version of [undefined, '1']) {
      const lease = repository.acquire('catdog', version);
      expect(lease.model.name).to.equal('catdog');
      expect(lease.model.version).to.equal('1');
      lease.release();
      lease.release();
    }
    expect(repository.index()).to.deep.equal([{ name: 'catdog', version: '1', state: 'READY', reason: '' }]);
    expect(repository.readyVersions('catdog')).to.deep.equal(['1']);
    expect(repository.readyVersions('other')).to.deep.equal([]);
  });

  it('answers model-not-found for another name or version', () => {
    const repository = createStaticRepository({ name: 'catdog', manifest, classifier: fakeClassifier() });
    expect(() => repository.acquire('dogcat')).to.throw(ModelNotFound, 'No model named "dogcat"');
    expect(() => repository.acquire('catdog', '2')).to.throw(ModelNotFound, 'has no version "2"');
  });

  it('answers model-unavailable once its engine gave up', () => {
    const classifier = { ...fakeClassifier(), health: () => 'failed' as const };
    const repository = createStaticRepository({ name: 'catdog', manifest, classifier });
    expect(repository.health()).to.equal('failed');
    expect(() => repository.acquire('catdog')).to.throw(ModelUnavailable, 'inference workers keep crashing');
  });

  it('reports the classifier health and closes it', async () => {
    const classifier = fakeClassifier();
    const repository = createStaticRepository({ name: 'catdog', manifest, classifier });
    expect(repository.health()).to.equal('ok');
    await repository.close();
    expect(classifier.closed()).to.equal(true);
  });
});
