/**
 * A model's version policy (src/repository/policy.ts): Triton's `version_policy` in the JSON form
 * of its model configuration, read from `<model>/config.json`; the default without one; a refusal
 * that says what is wrong.
 */
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { DEFAULT_POLICY, describePolicy, parsePolicy, PolicyInvalid, readPolicy } from '../../../src/repository/policy.js';

describe('version policy', () => {
  it('reads the three forms of Triton\'s version_policy, and the default without one', () => {
    expect(parsePolicy('{"version_policy": {"latest": {"num_versions": 2}}}')).to.deep.equal({ kind: 'latest', count: 2 });
    expect(parsePolicy('{"version_policy": {"all": {}}}')).to.deep.equal({ kind: 'all' });
    expect(parsePolicy('{"version_policy": {"specific": {"versions": [1, "3", 3]}}}')).to.deep.equal({ kind: 'specific', versions: ['1', '3'] });
    // Triton's other members (max_batch_size, platform...) are not this service's: ignored.
    expect(parsePolicy('{"name": "catdog", "max_batch_size": 8}')).to.equal(DEFAULT_POLICY);
    expect(describePolicy({ kind: 'specific', versions: ['1', '3'] })).to.equal('version_policy specific [1, 3]');
  });

  it('refuses what is not one of them, saying what is wrong', () => {
    for (const [text, reason] of [
      ['{', 'config.json is not JSON'],
      ['[]', 'config.json is not a JSON object'],
      ['{"version_policy": {"latest": {"num_versions": 0}}}', 'version_policy.latest.num_versions must be an integer from 1 to 1000'],
      ['{"version_policy": {"specific": {"versions": []}}}', 'version_policy.specific.versions must be a non-empty list of positive integers'],
      ['{"version_policy": {"specific": {"versions": ["v1"]}}}', 'version_policy.specific.versions must be a non-empty list of positive integers'],
      ['{"version_policy": {"all": {}, "latest": {"num_versions": 1}}}', 'version_policy must have exactly one of "latest", "all", "specific"'],
      ['{"version_policy": {"newest": {}}}', 'version_policy must be {"latest": {"num_versions": N}}, {"all": {}} or {"specific": {"versions": [...]}}'],
    ] as const) {
      expect(() => parsePolicy(text), text).to.throw(PolicyInvalid, reason);
    }
  });

  describe('from the model folder', () => {
    let root: string;
    before(async () => {
      root = await mkdtemp(path.join(os.tmpdir(), 'cdo-policy-'));
      await mkdir(path.join(root, 'catdog'));
      await mkdir(path.join(root, 'other'));
      await mkdir(path.join(root, 'outside'));
    });
    after(() => rm(root, { recursive: true, force: true }));

    it('reads config.json, the default without it, and refuses one that leads outside the repository', async () => {
      expect(await readPolicy(root, 'catdog')).to.equal(DEFAULT_POLICY);
      await writeFile(path.join(root, 'catdog', 'config.json'), '{"version_policy": {"latest": {"num_versions": 3}}}');
      expect(await readPolicy(root, 'catdog')).to.deep.equal({ kind: 'latest', count: 3 });
      const elsewhere = await mkdtemp(path.join(os.tmpdir(), 'cdo-elsewhere-'));
      try {
        await writeFile(path.join(elsewhere, 'config.json'), '{}');
        await symlink(path.join(elsewhere, 'config.json'), path.join(root, 'other', 'config.json'));
        let error: unknown;
        await readPolicy(root, 'other').catch((err: unknown) => (error = err));
        expect(error).to.be.instanceOf(PolicyInvalid).with.property('message', 'config.json is a symbolic link that leads outside the repository');
      } finally {
        await rm(elsewhere, { recursive: true, force: true });
      }
    });
  });
});
