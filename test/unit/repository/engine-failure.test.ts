/**
 * A loaded version whose inference engine gives up (its workers keep crashing): serving the
 * default model, the repository reports that the process should stop; serving another model,
 * the version is refused with the reason, closed, and the next version is loaded in its place.
 */
import { expect } from 'chai';
import { createLogger } from '../../../src/log.js';
import type { Classifier } from '../../../src/model/classifier.js';
import type { Manifest } from '../../../src/model/manifest.js';
import type { Layout } from '../../../src/repository/layout.js';
import { createModelRepository, type LoadedRepository } from '../../../src/repository/repository.js';
import type { IndexEntry, ServedModel } from '../../../src/repository/types.js';
import { waitFor } from '../../support/wait.js';

/** A loaded version whose engine the test makes fail. */
interface Loaded {
  readonly served: ServedModel;
  readonly fail: (err: Error) => void;
  closed: boolean;
}

/** A repository of `models` (name → versions), each version loading at once. */
function repositoryOf(models: Record<string, string[]>, loaded: Map<string, Loaded>): LoadedRepository {
  const layout: Layout = new Map(
    Object.entries(models).map(([name, versions]) => [name, new Map(versions.map((v) => [v, { manifestPath: `/r/${name}/${v}/manifest.json`, root: '/r', fingerprint: 'a' }]))]),
  );
  return createModelRepository({
    defaultModel: 'catdog',
    control: 'explicit',
    scan: () => Promise.resolve(layout),
    load: (name, version) => {
      let fail: (err: Error) => void = () => {};
      const failed = new Promise<Error>((resolve) => (fail = resolve));
      const entry: Loaded = { served: undefined as unknown as ServedModel, fail, closed: false };
      const classifier = {
        health: () => 'ok',
        failed,
        close: () => {
          entry.closed = true;
          return Promise.resolve();
        },
      } as unknown as Classifier;
      const served: ServedModel = { name, version, manifest: { name: `${name}-${version}` } as Manifest, classifier };
      loaded.set(`${name}/${version}`, Object.assign(entry, { served }));
      return Promise.resolve(served);
    },
    log: createLogger(process.env.TEST_LOG_LEVEL ?? 'silent'),
  });
}

describe('model repository, when a version’s engine fails', () => {
  let repository: LoadedRepository | undefined;
  afterEach(async () => {
    await repository?.close();
    repository = undefined;
  });

  it('refuses a failed version of another model, closes it and serves the previous one', async () => {
    const loaded = new Map<string, Loaded>();
    repository = repositoryOf({ catdog: ['1'], other: ['1', '2'] }, loaded);
    await repository.start();
    const version2 = (): IndexEntry | undefined => repository!.index().find((e) => e.name === 'other' && e.version === '2');
    const lease = repository.acquire('other');
    expect(lease.model.version).to.equal('2');

    loaded.get('other/2')!.fail(new Error('boom'));
    await waitFor(() => repository!.readyVersions('other').includes('1'), 'version 1 of other ready');

    const next = repository.acquire('other');
    next.release();
    expect(next.model.version).to.equal('1');
    expect(version2()).to.deep.include({ state: 'UNLOADING', reason: 'finishing the requests in flight' });
    expect(loaded.get('other/2')!.closed).to.equal(false);

    lease.release();
    await waitFor(() => loaded.get('other/2')!.closed, 'version 2 of other closed');
    await waitFor(() => version2()?.state === 'UNAVAILABLE', 'version 2 of other UNAVAILABLE');
    expect(version2()!.reason).to.equal('its inference workers keep crashing (boom)');
    expect(repository.activity().loads.get('other')?.get('engine-failed')).to.equal(1);
    expect(repository.health()).to.equal('ok');
  });

  it('reports that the default model can no longer run when its serving version fails', async () => {
    const loaded = new Map<string, Loaded>();
    repository = repositoryOf({ catdog: ['1'] }, loaded);
    await repository.start();
    const boom = new Error('boom');
    loaded.get('catdog/1')!.fail(boom);
    expect(await repository.failed).to.equal(boom);
    // What serves keeps serving until the process stops.
    const lease = repository.acquire('catdog');
    lease.release();
    expect(lease.model.version).to.equal('1');
  });
});
