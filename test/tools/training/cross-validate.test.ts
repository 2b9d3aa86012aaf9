import { expect } from 'chai';
import { crossValidate, nestedCrossValidate, selectL2, stratifiedFolds } from '../../../tools/training/cross-validate.js';
import type { ImageFeatures } from '../../../tools/training/features.js';
import { seededRandom } from '../../../tools/training/random.js';

/** Feature vectors of three separated classes; the flipped copy is a small perturbation. */
function dataset(perClass: number, d: number, seed: number): { features: ImageFeatures[]; labels: number[] } {
  const random = seededRandom(seed);
  const features: ImageFeatures[] = [];
  const labels: number[] = [];
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < perClass; i++) {
      const original = Float32Array.from({ length: d }, (_, j) => (j % 3 === c ? 3 : 0) + random());
      features.push({ original, flipped: original.map((v) => v + 0.1 * random()) });
      labels.push(c);
    }
  }
  return { features, labels };
}

describe('tools/training/cross-validate', () => {
  it('assigns stratified, balanced, reproducible folds', () => {
    const labels = [...new Array<number>(10).fill(0), ...new Array<number>(7).fill(1), ...new Array<number>(5).fill(2)];
    const folds = stratifiedFolds(labels, 5, 42);
    expect(folds).to.deep.equal(stratifiedFolds(labels, 5, 42));
    const sizes = [0, 1, 2, 3, 4].map((f) => folds.filter((x) => x === f).length);
    expect(Math.max(...sizes) - Math.min(...sizes)).to.be.at.most(1);
    for (let f = 0; f < 5; f++) expect(labels.filter((l, i) => l === 0 && folds[i] === f)).to.have.length(2);
  });

  it('classifies every held-out image of separable classes and fills the confusion matrix', () => {
    const { features, labels } = dataset(8, 12, 1);
    const cv = crossValidate(features, labels, 3, { l2: 0.1, flip: true, folds: 4, seed: 1 });
    expect(cv.accuracy).to.equal(1);
    expect(cv.confusion).to.deep.equal([[8, 0, 0], [0, 8, 0], [0, 0, 8]]);
  });

  it('picks the largest penalty among equally accurate ones', () => {
    const { features, labels } = dataset(6, 9, 2);
    const { l2 } = selectL2(features, labels, 3, [0.01, 0.1, 1], { flip: false, folds: 3, seed: 2 });
    expect(l2).to.equal(1);
  });

  it('averages repeated CVs with different fold assignments', () => {
    const { features, labels } = dataset(6, 9, 4);
    const { results } = selectL2(features, labels, 3, [0.1], { flip: false, folds: 3, seed: 4, repeats: 2 });
    const second = crossValidate(features, labels, 3, { l2: 0.1, flip: false, folds: 3, seed: 5 });
    expect(results[0]!.meanAccuracy).to.be.closeTo((results[0]!.cv.accuracy + second.accuracy) / 2, 1e-12);
  });

  it('reports nested CV with the penalty chosen in each outer fold', () => {
    const { features, labels } = dataset(6, 9, 3);
    const nested = nestedCrossValidate(features, labels, 3, [0.1, 1], { flip: true, folds: 3, seed: 3 });
    expect(nested.chosen).to.have.length(3);
    expect(nested.accuracy).to.equal(1);
  });
});
