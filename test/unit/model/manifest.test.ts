import { expect } from 'chai';
import { loadManifest, parseManifest, ManifestError } from '../../../src/model/manifest.js';
import { minimalManifest } from '../../fixtures/manifests.js';
import defaultManifest from '../../../resources/models/repository/catdog/1/manifest.json' with { type: 'json' };

const base = minimalManifest;

describe('model manifest', () => {
  it('accepts the default manifest', () => {
    const m = parseManifest(defaultManifest, '/srv/models/catdog/1/manifest.json');
    expect(m.file).to.match(/^\/srv\/models\/.+\.onnx$/);
    expect(m.labels).to.deep.equal(['Cat', 'Dog', 'Other']);
  });

  it('resolves golden examples beside the manifest, and refuses one whose label is not served', () => {
    const m = parseManifest({ ...base, golden: [{ file: 'golden/cat.png', label: 'Cat' }] }, '/r/catdog/2/manifest.json');
    expect(m.golden).to.deep.equal([{ file: '/r/catdog/2/golden/cat.png', label: 'Cat' }]);
    expect(() => parseManifest({ ...base, golden: [{ file: 'x.png', label: 'Bird' }] }, '/m.json')).to.throw(ManifestError, 'golden[0].label Bird is not one of labels');
  });

  it('applies defaults: RGB, fill resize, scale 1, no normalisation, argmax', () => {
    const m = parseManifest(base, '/x/manifest.json');
    expect(m.input.channels).to.equal('RGB');
    expect(m.input.resize).to.equal('fill');
    expect(m.input.scale).to.equal(1);
    expect(m.input.mean).to.deep.equal([0, 0, 0]);
    expect(m.input.std).to.deep.equal([1, 1, 1]);
    expect(m.decision).to.deep.equal({ rule: 'argmax' });
    expect(m.file).to.equal('/x/m.onnx');
  });

  it('reports every problem at once', () => {
    const broken = { ...base, sha256: 'nope', input: { ...base.input, layout: 'CHW' }, output: { name: 'o', activation: 'relu' } };
    let message = '';
    try {
      parseManifest(broken, 'broken.json');
    } catch (err) {
      expect(err).to.be.instanceOf(ManifestError).with.property('code', 'manifest-invalid');
      message = (err as Error).message;
    }
    expect(message).to.contain('broken.json').and.contain('/sha256').and.contain('/input/layout').and.contain('/output/activation');
  });

  it('says why a manifest cannot be read: code manifest-unreadable, the file system error as cause', async () => {
    const err = await loadManifest('/nonexistent/manifest.json').catch((e: unknown) => e);
    expect(err).to.be.instanceOf(ManifestError).with.property('code', 'manifest-unreadable');
    expect((err as Error).message).to.contain('/nonexistent/manifest.json').and.contain('ENOENT');
    expect((err as Error).cause).to.have.property('code', 'ENOENT');
  });

  it('refuses groups and decision rules that name unknown labels', () => {
    const bad = {
      ...base,
      grouping: { classes: 10, groups: { Kat: [[0, 3]], Dog: [[4, 12]] }, rest: 'Other' },
      decision: { rule: 'threshold', among: ['Cat', 'Wolf'], minSum: 0.2, otherwise: 'Other' },
    };
    expect(() => parseManifest(bad, 'm.json'))
      .to.throw(ManifestError)
      .with.property('message')
      .that.contains('Kat')
      .and.contains('[4, 12]')
      .and.contains('Wolf');
  });
});
