import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { ConfigError, envSchema, loadConfig, redactConfig } from '../../src/config/config.js';
import { configurationTable, documentedTable } from '../../scripts/config-table.js';
import { rootDir } from '../../src/spec.js';

const base = { AUTH_DISABLED: 'true' };

describe('config', () => {
  it('reads the Label Studio backend\'s settings, asks for its Basic user and password together, and never logs its secrets', () => {
    const c = loadConfig({
      ...base,
      LABEL_STUDIO_URL: 'http://label-studio:8080',
      LABEL_STUDIO_API_KEY: 'ls-key',
      LABEL_STUDIO_BACKEND_USER: 'ls',
      LABEL_STUDIO_BACKEND_PASSWORD: 'ls-password',
    });
    expect(c.labelStudio).to.deep.equal({ url: 'http://label-studio:8080', apiKey: 'ls-key', backend: { user: 'ls', password: 'ls-password' }, fetchTimeoutMs: 10_000 });
    const logged = JSON.stringify(redactConfig(c));
    expect(logged).to.not.include('ls-key');
    expect(logged).to.not.include('ls-password');
    expect(() => loadConfig({ ...base, LABEL_STUDIO_BACKEND_USER: 'ls' })).to.throw(ConfigError, 'LABEL_STUDIO_BACKEND_PASSWORD together');
    expect(() => loadConfig({ ...base, LABEL_STUDIO_URL: 'label-studio:8080' })).to.throw(ConfigError, 'LABEL_STUDIO_URL');
  });

  it('applies the documented defaults (PORT 8080 as in the course, 10 MiB uploads)', () => {
    const c = loadConfig(base);
    expect(c.server.port).to.equal(8080);
    expect(c.server.host).to.equal('0.0.0.0');
    expect(c.requests.maxUploadBytes).to.equal(10 * 1024 * 1024);
    expect(c.models).to.deep.equal({
      repositoryPath: 'resources/models/repository',
      manifestPath: undefined,
      defaultModel: 'catdog',
      control: 'explicit',
      pollIntervalMs: 5000,
      maxModelBytes: 1024 * 1024 * 1024,
    });
  });

  it('serves MODEL_MANIFEST instead of a repository, which nothing rescans', () => {
    expect(loadConfig({ ...base, MODEL_MANIFEST: 'm.json', MODEL_CONTROL: 'none' }).models.manifestPath).to.equal('m.json');
    expect(() => loadConfig({ ...base, MODEL_MANIFEST: 'm.json', MODEL_REPOSITORY: 'models' })).to.throw(ConfigError, 'not both');
    expect(() => loadConfig({ ...base, MODEL_MANIFEST: 'm.json', MODEL_CONTROL: 'poll' })).to.throw(ConfigError, 'MODEL_CONTROL=poll');
    expect(() => loadConfig({ ...base, MODEL_CONTROL: 'watch' })).to.throw(ConfigError, 'MODEL_CONTROL');
  });

  it('parses numbers from the environment and treats empty strings as unset', () => {
    const c = loadConfig({ ...base, PORT: '9000', MAX_UPLOAD_BYTES: '', LOG_LEVEL: 'debug' });
    expect(c.server.port).to.equal(9000);
    expect(c.requests.maxUploadBytes).to.equal(10 * 1024 * 1024);
    expect(c.logLevel).to.equal('debug');
  });

  it('reports every invalid variable at once', () => {
    let err: unknown;
    try {
      loadConfig({ ...base, PORT: '70000', MAX_IMAGE_PIXELS: 'many', LOG_LEVEL: 'chatty' });
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(ConfigError).with.property('code', 'invalid-config');
    const problems = (err as ConfigError).problems.join('\n');
    expect(problems).to.contain('PORT').and.contain('MAX_IMAGE_PIXELS').and.contain('LOG_LEVEL');
  });

  it('returns a frozen object, sections included', () => {
    const c = loadConfig(base);
    expect(Object.isFrozen(c)).to.equal(true);
    for (const section of Object.values(c)) if (typeof section === 'object') expect(Object.isFrozen(section)).to.equal(true);
    expect(Object.isFrozen(c.explain.admission)).to.equal(true);
  });

  it('docs/configuration.md holds the table of every variable, as the schema generates it', () => {
    expect(documentedTable()).to.equal(configurationTable());
  });

  it('the README names only variables the schema knows', () => {
    const readme = readFileSync(path.join(rootDir, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Configuration'), readme.indexOf('## Serving your own model'));
    const named = [...section.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1]);
    expect(named.length).to.be.above(10);
    for (const name of named) expect(Object.keys(envSchema.properties), name).to.include(name);
  });
});
