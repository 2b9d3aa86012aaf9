import { expect } from 'chai';
import { fitLogistic, predictProba } from '../../../tools/training/logistic.js';
import { seededRandom } from '../../../tools/training/random.js';

/** Three Gaussian clusters in `d` dimensions, `perClass` points each. */
function clusters(d: number, perClass: number, seed: number, spread = 1): { x: Float64Array[]; y: number[] } {
  const random = seededRandom(seed);
  const gauss = (): number => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const x: Float64Array[] = [];
  const y: number[] = [];
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < perClass; i++) {
      x.push(Float64Array.from({ length: d }, (_, j) => (j === c ? 2 : 0) + spread * gauss()));
      y.push(c);
    }
  }
  return { x, y };
}

/** Max-norm of the objective's gradient at the fitted parameters (0 at the optimum). */
function gradientNorm(x: Float64Array[], y: number[], l2: number, fit: ReturnType<typeof fitLogistic>): number {
  const { classes: k, features: d } = fit;
  const gw = new Float64Array(k * d);
  const gb = new Float64Array(k);
  x.forEach((xi, i) => {
    const p = predictProba(fit, xi);
    for (let c = 0; c < k; c++) {
      const g = (p[c]! - (c === y[i] ? 1 : 0)) / x.length;
      gb[c]! += g;
      for (let j = 0; j < d; j++) gw[c * d + j]! += g * xi[j]!;
    }
  });
  let max = Math.max(...gb.map(Math.abs));
  for (let j = 0; j < k * d; j++) max = Math.max(max, Math.abs(gw[j]! + l2 * fit.weights[j]!));
  return max;
}

describe('tools/training/logistic fitLogistic', () => {
  it('separates well-separated classes', () => {
    const { x, y } = clusters(5, 30, 1, 0.3);
    const fit = fitLogistic(x, y, 3, { l2: 0.01 });
    const correct = x.filter((xi, i) => {
      const p = predictProba(fit, xi);
      return p.indexOf(Math.max(...p)) === y[i];
    }).length;
    expect(correct).to.equal(x.length);
  });

  it('reaches the optimum with more samples than features', () => {
    const { x, y } = clusters(4, 20, 2);
    expect(gradientNorm(x, y, 0.1, fitLogistic(x, y, 3, { l2: 0.1 }))).to.be.below(1e-4);
  });

  it('reaches the same kind of optimum with fewer samples than features (reduced fit)', () => {
    const { x, y } = clusters(60, 5, 3);
    expect(gradientNorm(x, y, 0.1, fitLogistic(x, y, 3, { l2: 0.1 }))).to.be.below(1e-4);
  });

  it('shrinks weights as the penalty grows', () => {
    const { x, y } = clusters(8, 10, 4);
    const norm = (l2: number): number => fitLogistic(x, y, 3, { l2 }).weights.reduce((s, v) => s + v * v, 0);
    expect(norm(1)).to.be.below(norm(0.01));
  });

  it('is deterministic', () => {
    const { x, y } = clusters(30, 6, 5);
    const a = fitLogistic(x, y, 3, { l2: 0.05 });
    const b = fitLogistic(x, y, 3, { l2: 0.05 });
    expect(Array.from(a.weights)).to.deep.equal(Array.from(b.weights));
  });
});
