import { expect } from 'chai';
import { activate, createPostprocessor } from '../../../src/model/postprocess.js';
import { testManifest } from '../../fixtures/manifests.js';

const manifest = (extra: Record<string, unknown>) => testManifest(extra);

describe('postprocess', () => {
  it('softmax is stable for large logits and sums to 1', () => {
    const p = activate(new Float32Array([1000, 1001, 999]), 'softmax');
    expect(p.reduce((a, b) => a + b, 0)).to.be.closeTo(1, 1e-12);
    expect(p[1]).to.be.greaterThan(p[0]!);
  });

  it('sigmoid maps each output independently', () => {
    const p = activate(new Float32Array([0, 10, -10]), 'sigmoid');
    expect(p[0]).to.equal(0.5);
    expect(p[1]).to.be.closeTo(1, 1e-4);
    expect(p[2]).to.be.closeTo(0, 1e-4);
  });

  it('groups model classes onto served labels by summing their probabilities', () => {
    const post = createPostprocessor(
      manifest({ output: { name: 'output', activation: 'none' }, grouping: { classes: 6, groups: { Cat: [[0, 1]], Dog: [[2, 2], [4, 4]] }, rest: 'Other' } }),
    );
    const r = post(new Float32Array([0.1, 0.1, 0.3, 0.05, 0.4, 0.05]));
    expect(r.values[0]).to.be.closeTo(0.2, 1e-6);
    expect(r.values[1]).to.be.closeTo(0.7, 1e-6);
    expect(r.values[2]).to.be.closeTo(0.1, 1e-6);
    expect(r.prediction).to.equal('Dog');
  });

  it('the threshold rule answers the larger of Cat and Dog when their sum reaches minSum, else Other', () => {
    const post = createPostprocessor(
      manifest({
        output: { name: 'output', activation: 'none' },
        decision: { rule: 'threshold', among: ['Cat', 'Dog'], minSum: 0.2, otherwise: 'Other' },
      }),
    );
    expect(post(new Float32Array([0.15, 0.06, 0.79])).prediction).to.equal('Cat');
    expect(post(new Float32Array([0.1, 0.09, 0.81])).prediction).to.equal('Other');
  });
});
