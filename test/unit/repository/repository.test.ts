/**
 * The repository's serving rules, with versions that load as the test says (at once, later, or
 * refused) and a layout the test edits: which version serves, swaps that never leave a request
 * without a version, leases that keep a replaced version open, refusals that keep the old one
 * serving, pins, unloads, and one load at a time. The real loader and the real process are
 * exercised in test/system/model-repository.test.ts.
 */
import { expect } from 'chai';
import { ModelBusy, ModelControlDisabled, ModelLoadFailed, ModelNotFound, ModelUnavailable, ModelVersionNotLoaded, TrafficConflict } from '../../../src/errors.js';
import { createLogger } from '../../../src/log.js';
import type { Classifier } from '../../../src/model/classifier.js';
import type { Manifest } from '../../../src/model/manifest.js';
import type { Layout, VersionFiles } from '../../../src/repository/layout.js';
import type { VersionPolicy } from '../../../src/repository/policy.js';
import { VersionRefused } from '../../../src/repository/refusal.js';
import { createModelRepository, type LoadedRepository } from '../../../src/repository/repository.js';
import type { ModelControl, ServedModel } from '../../../src/repository/types.js';

/** A classifier that only knows whether it was closed. */
function fakeClassifier(): Classifier & { closed: boolean } {
  const classifier = {
    name: 'fixture',
    sha256: '0'.repeat(64),
    labels: ['Cat', 'Dog', 'Other'],
    int8Weights: 'none',
    health: () => 'ok',
    failed: new Promise<Error>(() => {}),
    closed: false,
    close() {
      classifier.closed = true;
      return Promise.resolve();
    },
  };
  return classifier as unknown as Classifier & { closed: boolean };
}

/** A repository on disk as the test edits it: model → version → fingerprint. */
class FakeDisk {
  readonly models = new Map<string, Map<string, string>>();
  /** Versions (`name/version`) whose load is refused, by fingerprint. */
  readonly refuse = new Map<string, string>();
  /** Loads waiting for the test to let them finish. */
  readonly held = new Map<string, () => void>();
  /** Version policies by model, as `config.json` would state them. */
  readonly policies = new Map<string, VersionPolicy>();
  hold = false;
  loading = 0;
  maxLoading = 0;
  readonly loaded: ServedModel[] = [];

  put(name: string, version: string, fingerprint = 'a'): void {
    const versions = this.models.get(name) ?? new Map<string, string>();
    versions.set(version, fingerprint);
    this.models.set(name, versions);
  }

  remove(name: string, version: string): void {
    this.models.get(name)?.delete(version);
  }

  scan = (): Promise<Layout> =>
    Promise.resolve(
      new Map(
        [...this.models].map(([name, versions]) => [
          name,
          new Map([...versions].map(([v, fingerprint]): [string, VersionFiles] => [v, { manifestPath: `/r/${name}/${v}/manifest.json`, root: '/r', fingerprint }])),
        ]),
      ),
    );

  load = async (name: string, version: string, files: VersionFiles): Promise<ServedModel> => {
    this.loading++;
    this.maxLoading = Math.max(this.maxLoading, this.loading);
    try {
      if (this.hold) await new Promise<void>((resolve) => this.held.set(`${name}/${version}`, resolve));
      else await new Promise((resolve) => setImmediate(resolve));
      if (this.refuse.get(`${name}/${version}`) === files.fingerprint) {
        throw new VersionRefused('model-checksum-mismatch', `model.onnx: SHA-256 is ${'1'.repeat(8)}, the manifest pins ${'2'.repeat(8)}`);
      }
      const served = { name, version, manifest: { name: `${name}-${version}` } as Manifest, classifier: fakeClassifier() };
      this.loaded.push(served);
      return served;
    } finally {
      this.loading--;
    }
  };

  classifierOf(name: string, version: string): Classifier & { closed: boolean } {
    const served = this.loaded.filter((s) => s.name === name && s.version === version).at(-1);
    if (!served) throw new Error(`${name}/${version} was never loaded`);
    return served.classifier as Classifier & { closed: boolean };
  }
}

/** Triton's default policy: only the newest version loaded. */
const LATEST_ONE: VersionPolicy = { kind: 'latest', count: 1 };

function repositoryOn(disk: FakeDisk, control: ModelControl = 'explicit', pollIntervalMs = 10, policy?: VersionPolicy): LoadedRepository {
  return createModelRepository({
    defaultModel: 'catdog',
    control,
    scan: disk.scan,
    load: disk.load,
    pollIntervalMs,
    ...(policy ? { readPolicy: () => Promise.resolve(disk.policies.get('catdog') ?? policy) } : {}),
    log: createLogger(process.env.TEST_LOG_LEVEL ?? 'silent'),
  });
}

/** Resolves once `condition` holds (checked every few milliseconds), or fails after `ms`. */
async function until(condition: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const servingVersion = (repository: LoadedRepository, name = 'catdog'): string => {
  const lease = repository.acquire(name);
  lease.release();
  return lease.model.version;
};

describe('model repository', () => {
  let repository: LoadedRepository | undefined;
  afterEach(async () => {
    await repository?.close();
    repository = undefined;
  });

  it('serves the newest version of each model side by side, keeps the one before it loaded (the default policy), and lists the others as not loaded', async () => {
    const disk = new FakeDisk();
    disk.put('catdog', '1');
    disk.put('catdog', '2');
    disk.put('catdog', '10');
    disk.put('imagenet-grouped', '1');
    repository = repositoryOn(disk);
    expect(repository.health()).to.equal('loading');
    // Before its first scan a request is told to come back (503), not that its model does not exist.
    expect(() => repository!.acquire('catdog')).to.throw(ModelUnavailable, 'Model "catdog" is not available: the model repository is being read');
    await repository.start();
    expect(repository.health()).to.equal('ok');
    expect(servingVersion(repository)).to.equal('10');
    expect(servingVersion(repository, 'imagenet-grouped')).to.equal('1');
    expect(repository.index()).to.deep.equal([
      { name: 'catdog', version: '1', state: 'UNAVAILABLE', reason: 'not loaded: version 10 serves' },
      { name: 'catdog', version: '2', state: 'READY', reason: '' },
      { name: 'catdog', version: '10', state: 'READY', reason: '' },
      { name: 'imagenet-grouped', version: '1', state: 'READY', reason: '' },
    ]);
    expect(disk.loaded.map((s) => `${s.name}/${s.version}`)).to.deep.equal(['catdog/10', 'catdog/2', 'imagenet-grouped/1']);
    expect(() => repository!.acquire('dogcat')).to.throw(ModelNotFound, 'No model named "dogcat"');
    expect(() => repository!.acquire('catdog', '3')).to.throw(ModelNotFound, 'has no version "3"');
    // Outside the policy: a 404 that says how to load it, not a 503 that waiting cannot help.
    expect(() => repository!.acquire('catdog', '1')).to.throw(ModelVersionNotLoaded, 'the default version policy (the version serving, the one before it and the newest) keeps versions 10, 2 loaded');
    const two = repository.acquire('catdog', '2');
    expect(two.model.version).to.equal('2');
    two.release();
  });

  it('refuses to start when the default model has no version that can serve, saying why for each', async () => {
    const disk = new FakeDisk();
    disk.put('catdog', '1');
    disk.refuse.set('catdog/1', 'a');
    repository = repositoryOn(disk);
    let error: Error | undefined;
    await repository.start().catch((err: Error) => (error = err));
    expect(error?.message).to.equal('model "catdog" has no version that can serve: version 1: model.onnx: SHA-256 is 11111111, the manifest pins 22222222');
  });

  it('swaps to a new version loaded beside the serving one; requests in flight keep theirs until they release it', async () => {
    const disk = new FakeDisk();
    disk.put('catdog', '1');
    repository = repositoryOn(disk, 'explicit', 10, LATEST_ONE);
    await repository.start();
    const inFlight = repository.acquire('catdog');
    disk.put('catdog', '2');
    disk.hold = true;
    const loading = repository.load('catdog');
    await until(() => disk.held.has('catdog/2'));
    // While version 2 loads, version 1 serves and says so.
    expect(servingVersion(repository)).to.equal('1');
    expect(repository.index().find((e) => e.version === '2')?.state).to.equal('LOADING');
    expect(repository.health()).to.equal('ok');
    disk.held.get('catdog/2')!();
    const status = await loading;
    expect(status).to.deep.include({ name: 'catdog', serving: '2' });
    expect(servingVersion(repository)).to.equal('2');
    // Version 1 is out of rotation but still open for the request that holds it.
    expect(repository.index().find((e) => e.version === '1')).to.deep.equal({
      name: 'catdog', version: '1', state: 'UNLOADING', reason: 'finishing the requests in flight',
    });
    expect(disk.classifierOf('catdog', '1').closed).to.equal(false);
    expect(repository.loaded().map((s) => s.version).sort()).to.deep.equal(['1', '2']);
    inFlight.release();
    inFlight.release();
    await until(() => disk.classifierOf('catdog', '1').closed);
    await until(() => repository!.loaded().length === 1);
    expect(repository.activity().switches.get('catdog')).to.equal(2);
  });

  it('keeps serving when the new version is refused, says why, and answers the load with 422', async () => {
    const disk = new FakeDisk();
    disk.put('catdog', '1');
    repository = repositoryOn(disk);
    await repository.start();
    disk.put('catdog', '2');
    disk.refuse.set('catdog/2', 'a');
    let error: unknown;
    await repository.load('catdog').catch((err: unknown) => (error = err));
    expect(error).to.be.instanceOf(ModelLoadFailed);
    expect((error as ModelLoadFailed).detail).to.equal(
      'Model "catdog" version "2" was refused: model.onnx: SHA-256 is 11111111, the manifest pins 22222222; version 1 keeps serving',
    );
    expect(servingVersion(repository)).to.equal('1');
    expect(repository.index().find((e) => e.version === '2')).to.deep.include({ state: 'UNAVAILABLE', reason: 'model.onnx: SHA-256 is 11111111, the manifest pins 22222222' });
    expect(() => repository!.acquire('catdog', '2')).to.throw(ModelUnavailable, 'SHA-256');
    expect(repository.activity().loads.get('catdog')).to.deep.equal(new Map([['loaded', 1], ['model-checksum-mismatch', 1]]));
  });

  it('polls: retries a version whose files change (a copy in progress) and never serves it before it verifies', async () => {
    const disk = new FakeDisk();
    disk.put('catdog', '1');
    repository = repositoryOn(disk, 'poll', 10);
    await repository.start();
    disk.refuse.set('catdog/2', 'half');
    disk.put('catdog', '2', 'half');
    await until(() => repository!.index().some((e) => e.version === '2' && e.reason.includes('SHA-256')));
    const attempts = (): number => repository!.activity().loads.get('catdog')?.get('model-checksum-mismatch') ?? 0;
    // The same files are not tried again, however many scans pass.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(attempts()).to.equal(1);
    expect(servingVersion(repository)).to.equal('1');
    disk.put('catdog', '2', 'whole');
    await until(() => servingVersion(repository!) === '2');
    expect(attempts()).to.equal(1);
  });

  it('polls: a removed newest version falls back to the previous one, loaded before the switch', async () => {
    const disk = new FakeDisk();
    disk.put('catdog', '1');
    disk.put('catdog', '2');
    repository = repositoryOn(disk, 'poll', 10, LATEST_ONE);
    await repository.start();
    expect(servingVersion(repository)).to.equal('2');
    disk.hold = true;
    disk.remove('catdog', '2');
    await until(() => disk.held.has('catdog/1'));
    // Its folder is gone, but version 2 is in memory: it serves until version 1 is ready.
    expect(servingVersion(repository)).to.equal('2');
    disk.held.get('catdog/1')!();
    await until(() => servingVersion(repository!) === '1');
    await until(() => disk.classifierOf('catdog', '2').closed);
    expect(repository.index()).to.deep.equal([{ name: 'catdog', version: '1', state: 'READY', reason: '' }]);
  });

  it('unloads a version that served: the next one is loaded first, and the unload sticks through polling', async () => {
    const disk = new FakeDisk();
    disk.put('catdog', '1');
    disk.put('catdog', '2');
    repository = repositoryOn(disk, 'poll', 10);
    await repository.start();
    const status = await repository.unload('catdog', '2');
    expect(status.serving).to.equal('1');
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(servingVersion(repository)).to.equal('1');
    expect(repository.index().find((e) => e.version === '2')).to.deep.include({ state: 'UNAVAILABLE', reason: 'unloaded' });
    // A load without a version serves the newest again.
    expect((await repository.load('catdog')).serving).to.equal('2');
  });

  it('unloads the default model: requests get model-unavailable and health is unavailable until it is loaded again', async () => {
    const disk = new FakeDisk();
    disk.put('catdog', '1');
    repository = repositoryOn(disk);
    await repository.start();
    const status = await repository.unload('catdog');
    expect(status).to.deep.equal({ name: 'catdog', versions: [{ name: 'catdog', version: '1', state: 'UNLOADING', reason: 'closing' }] });
    await until(() => repository!.index()[0]?.state === 'UNAVAILABLE');
    expect(repository.index()).to.deep.equal([{ name: 'catdog', version: '1', state: 'UNAVAILABLE', reason: 'unloaded' }]);
    expect(() => repository!.acquire('catdog')).to.throw(ModelUnavailable, 'unloaded');
    expect(repository.health()).to.equal('unavailable');
    await repository.load('catdog');
    expect(repository.health()).to.equal('ok');
  });

  it('pins a version: requests naming none go to it, the newest stays loaded for those that name it', async () => {
    const disk = new FakeDisk();
    disk.put('catdog', '1');
    disk.put('catdog', '2');
    repository = repositoryOn(disk, 'explicit', 10, LATEST_ONE);
    await repository.start();
    const status = await repository.load('catdog', '1');
    expect(status).to.deep.include({ serving: '1', pinned: '1' });
    expect(servingVersion(repository)).to.equal('1');
    expect(repository.readyVersions('catdog')).to.deep.equal(['2', '1']);
    const two = repository.acquire('catdog', '2');
    expect(two.model.version).to.equal('2');
    two.release();
    // Unpinned: the newest serves, and version 1 goes.
    expect(await repository.load('catdog')).to.deep.include({ serving: '2' });
    await until(() => disk.classifierOf('catdog', '1').closed);
    expect(repository.readyVersions('catdog')).to.deep.equal(['2']);
  });

  it('refuses a second load or unload of a model while one is in progress (409), and any with MODEL_CONTROL=none', async () => {
    const disk = new FakeDisk();
    disk.put('catdog', '1');
    repository = repositoryOn(disk);
    await repository.start();
    disk.put('catdog', '2');
    disk.hold = true;
    const first = repository.load('catdog');
    let second: unknown;
    await repository.load('catdog').catch((err: unknown) => (second = err));
    expect(second).to.be.instanceOf(ModelBusy).with.property('status', 409);
    expect((second as ModelBusy).detail).to.contain('loading its newest version');
    await until(() => disk.held.has('catdog/2'));
    disk.held.get('catdog/2')!();
    await first;

    const fixed = repositoryOn(disk, 'none');
    disk.hold = false;
    await fixed.start();
    try {
      await fixed.load('catdog').then(() => expect.fail('loaded'), (err: unknown) => expect(err).to.be.instanceOf(ModelControlDisabled));
      await fixed.unload('catdog').then(() => expect.fail('unloaded'), (err: unknown) => expect(err).to.be.instanceOf(ModelControlDisabled));
    } finally {
      await fixed.close();
    }
  });

  it('loads one version at a time, across models', async () => {
    const disk = new FakeDisk();
    disk.put('catdog', '1');
    disk.put('other', '1');
    repository = repositoryOn(disk, 'poll', 10);
    await repository.start();
    disk.put('catdog', '2');
    disk.put('other', '2');
    await Promise.all([repository.load('catdog'), repository.load('other')]);
    await until(() => servingVersion(repository!, 'other') === '2' && servingVersion(repository!) === '2');
    expect(disk.maxLoading).to.equal(1);
  });
});

describe('model repository: version policies and traffic (issue 26)', () => {
  let repository: LoadedRepository | undefined;
  afterEach(async () => {
    await repository?.close();
    repository = undefined;
  });
  const ready = (): readonly string[] => repository!.readyVersions('catdog');
  const diskOf = (...versions: string[]): FakeDisk => {
    const disk = new FakeDisk();
    for (const v of versions) disk.put('catdog', v);
    return disk;
  };
  const errorOf = async (work: Promise<unknown>): Promise<unknown> => work.then(() => undefined, (err: unknown) => err);

  it('loads what the version policy says: latest N, all, specific (the newest named serves)', async () => {
    const disk = diskOf('1', '2', '3', '4');
    disk.policies.set('catdog', { kind: 'latest', count: 2 });
    repository = repositoryOn(disk, 'explicit', 10, LATEST_ONE);
    await repository.start();
    expect(ready()).to.deep.equal(['4', '3']);
    expect(() => repository!.acquire('catdog', '2')).to.throw(ModelVersionNotLoaded, 'version_policy latest 2 keeps versions 4, 3 loaded');

    disk.policies.set('catdog', { kind: 'all' });
    await repository.load('catdog');
    expect(ready()).to.deep.equal(['4', '3', '2', '1']);

    disk.policies.set('catdog', { kind: 'specific', versions: ['1', '3'] });
    expect(await repository.load('catdog')).to.deep.include({ serving: '3' });
    await until(() => ready().join() === '3,1');
    expect(servingVersion(repository)).to.equal('3');
    let err: ModelVersionNotLoaded | undefined;
    try {
      repository.acquire('catdog', '4');
    } catch (e) {
      err = e as ModelVersionNotLoaded;
    }
    expect(err?.status).to.equal(404);
    expect(err?.detail).to.equal(
      'Model "catdog" version "4" is not loaded: version_policy specific [1, 3] keeps versions 3, 1 loaded. To serve it, add it to "version_policy" in catdog/config.json '
      + 'and call POST /v2/repository/models/catdog/load, or load and pin it with POST /v2/repository/models/catdog/load {"parameters":{"version":"4"}} (scope manage::models)',
    );
  });

  it('a canary or shadow candidate is loaded beside the serving version and never serves requests naming none itself', async () => {
    const disk = diskOf('1', '2');
    disk.policies.set('catdog', LATEST_ONE);
    repository = repositoryOn(disk, 'explicit', 10, LATEST_ONE);
    await repository.start();
    expect(ready()).to.deep.equal(['2']);
    // Version 2 served; as the canary it answers only its share: version 1 is loaded and serves.
    const status = await repository.setTraffic('catdog', { canary: { version: '2', percent: 20 }, shadow: null });
    expect(status).to.deep.equal({ name: 'catdog', serving: '1', canary: { version: '2', percent: 20 }, shadow: null, active: { canary: true, shadow: false } });
    expect(ready()).to.deep.equal(['2', '1']);
    expect(servingVersion(repository)).to.equal('1');
    expect(repository.routes!('catdog')).to.deep.equal({ serving: '1', canary: { version: '2', percent: 20 } });
    expect(repository.traffic('catdog')).to.deep.equal(status);

    const shadow = await repository.setTraffic('catdog', { canary: null, shadow: { version: '2' } });
    expect(shadow.active).to.deep.equal({ canary: false, shadow: true });
    expect(repository.routes!('catdog')).to.deep.equal({ serving: '1', shadow: { version: '2' } });
    const off = await repository.setTraffic('catdog', { canary: null, shadow: null });
    expect(off).to.deep.include({ serving: '2' });
    expect(repository.routes!('catdog')).to.equal(undefined);
  });

  it('promotion (a pin) and rollback (an unload) end the canary; a candidate that fails drops out of the split', async () => {
    const disk = diskOf('1', '2', '3');
    repository = repositoryOn(disk);
    await repository.start();
    await repository.setTraffic('catdog', { canary: { version: '3', percent: 50 }, shadow: { version: '3' } });
    expect(servingVersion(repository)).to.equal('2');
    // Promoted: pinned, it serves everything; its canary and shadow are over.
    expect(await repository.load('catdog', '3')).to.deep.include({ serving: '3', pinned: '3' });
    expect(repository.traffic('catdog')).to.deep.include({ canary: null, shadow: null });
    // Pinned, it cannot be a candidate.
    const pinned = await errorOf(repository.setTraffic('catdog', { canary: { version: '3', percent: 10 }, shadow: null }));
    expect(pinned).to.be.instanceOf(TrafficConflict).with.property('status', 409);
    await repository.load('catdog');
    await repository.setTraffic('catdog', { canary: { version: '3', percent: 50 }, shadow: null });
    // Rolled back: unloaded, it leaves the split and the setting.
    expect(await repository.unload('catdog', '3')).to.deep.include({ serving: '2' });
    expect(repository.traffic('catdog')).to.deep.include({ canary: null });
    expect(repository.routes!('catdog')).to.equal(undefined);

    // A candidate whose folder is removed drops out at the next settle, though its setting stays.
    await repository.load('catdog');
    await repository.setTraffic('catdog', { canary: { version: '3', percent: 50 }, shadow: null });
    expect(repository.routes!('catdog')?.canary?.version).to.equal('3');
    disk.remove('catdog', '3');
    await repository.refreshIndex();
    await repository.unload('catdog', '1');
    expect(repository.routes!('catdog')).to.equal(undefined);
    expect(repository.traffic('catdog')).to.deep.include({ canary: { version: '3', percent: 50 }, active: { canary: false, shadow: false } });
  });

  it('refuses a candidate that does not exist (404), that is refused (422, nothing changes), or beside which nothing could serve (409)', async () => {
    const disk = diskOf('1');
    repository = repositoryOn(disk);
    await repository.start();
    expect(await errorOf(repository.setTraffic('catdog', { canary: { version: '9', percent: 5 }, shadow: null }))).to.be.instanceOf(ModelNotFound);
    expect(await errorOf(repository.setTraffic('dogcat', { canary: null, shadow: null }))).to.be.instanceOf(ModelNotFound);
    expect(await errorOf(repository.setTraffic('catdog', { canary: null, shadow: { version: '1' } }))).to.be.instanceOf(TrafficConflict);
    disk.put('catdog', '2');
    disk.refuse.set('catdog/2', 'a');
    expect(await errorOf(repository.setTraffic('catdog', { canary: null, shadow: { version: '2' } }))).to.be.instanceOf(ModelLoadFailed);
    expect(repository.traffic('catdog')).to.deep.include({ serving: '1', canary: null, shadow: null });
  });
});
