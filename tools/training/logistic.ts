/**
 * L2-regularised multinomial logistic regression, fitted deterministically by L-BFGS.
 *
 * Minimises `mean_i −log softmax(W·x_i + b)[y_i] + (λ/2)·‖W‖²` (the bias is not penalised) on
 * features the caller has standardised. Starting from zero weights, with a fixed iteration order
 * and no randomness, the same data always gives the same weights.
 */

/** A fitted linear softmax classifier: `logits = W·x + b`. */
export interface LinearModel {
  /** `classes × features`, row-major. */
  readonly weights: Float64Array;
  readonly bias: Float64Array;
  readonly classes: number;
  readonly features: number;
}

/** Options of {@link fitLogistic}. */
export interface LogisticOptions {
  /** L2 penalty λ on the weights. */
  readonly l2: number;
  /** Maximum L-BFGS iterations. Default 500. */
  readonly maxIterations?: number;
  /** Stop when the gradient's max-norm falls below this (or the loss stops decreasing). Default 1e-6. */
  readonly tolerance?: number;
}

/** Loss and gradient at parameters `theta` (weights then bias). */
function lossAndGradient(theta: Float64Array, x: readonly Float64Array[], y: readonly number[], k: number, l2: number, grad: Float64Array): number {
  const d = x[0]!.length;
  const n = x.length;
  grad.fill(0);
  let loss = 0;
  const logits = new Float64Array(k);
  for (let i = 0; i < n; i++) {
    const xi = x[i]!;
    let max = -Infinity;
    for (let c = 0; c < k; c++) {
      let z = theta[k * d + c]!;
      const row = c * d;
      for (let j = 0; j < d; j++) z += theta[row + j]! * xi[j]!;
      logits[c] = z;
      if (z > max) max = z;
    }
    let sum = 0;
    for (let c = 0; c < k; c++) sum += Math.exp(logits[c]! - max);
    loss += Math.log(sum) + max - logits[y[i]!]!;
    for (let c = 0; c < k; c++) {
      const g = (Math.exp(logits[c]! - max) / sum - (c === y[i] ? 1 : 0)) / n;
      const row = c * d;
      for (let j = 0; j < d; j++) grad[row + j]! += g * xi[j]!;
      grad[k * d + c]! += g;
    }
  }
  loss /= n;
  for (let j = 0; j < k * d; j++) {
    loss += 0.5 * l2 * theta[j]! * theta[j]!;
    grad[j]! += l2 * theta[j]!;
  }
  return loss;
}

function dot(a: Float64Array, b: Float64Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i]! * b[i]!;
  return sum;
}

/**
 * Reduced coordinates of the rows of `x` (n < d): `x = L·Qᵀ` with Q orthonormal (d × r) and L
 * (n × r) lower-triangular, from a Cholesky factorisation of the Gram matrix `x·xᵀ` that skips
 * rows adding no new direction. The optimal weights lie in the span of the rows (the penalty
 * only grows outside it) and `‖W‖ = ‖Z‖` for `W = Z·Qᵀ`, so fitting on L gives the same optimum.
 */
function reduce(x: readonly Float64Array[]): { l: Float64Array[]; pivots: number[] } {
  const n = x.length;
  const gram = x.map(() => new Float64Array(n));
  for (let i = 0; i < n; i++) for (let k = 0; k <= i; k++) gram[i]![k] = gram[k]![i] = dot(x[i]!, x[k]!);
  const l = x.map(() => new Float64Array(n));
  const pivots: number[] = [];
  for (let i = 0; i < n; i++) {
    for (const [r, p] of pivots.entries()) {
      let v = gram[i]![p]!;
      for (let t = 0; t < r; t++) v -= l[i]![t]! * l[p]![t]!;
      l[i]![r] = v / l[p]![r]!;
    }
    const r = pivots.length;
    let diag = gram[i]![i]!;
    for (let t = 0; t < r; t++) diag -= l[i]![t]! ** 2;
    if (diag > 1e-10 * gram[i]![i]!) {
      l[i]![r] = Math.sqrt(diag);
      pivots.push(i);
    }
  }
  return { l: l.map((row) => row.slice(0, pivots.length)), pivots };
}

/** Fits the classifier to standardised features `x` with class indices `y` in `0..classes-1`. */
export function fitLogistic(x: readonly Float64Array[], y: readonly number[], classes: number, options: LogisticOptions): LinearModel {
  const d = x[0]?.length ?? 0;
  if (x.length >= d) return fitDirect(x, y, classes, options);
  const { l, pivots } = reduce(x);
  const r = pivots.length;
  const reduced = fitDirect(l, y, classes, options);
  // W = Z·Qᵀ with Qᵀ = L_p⁻¹·x_p (the pivot rows): solve A·L_p = Z, then W = A·x_p.
  const weights = new Float64Array(classes * d);
  for (let c = 0; c < classes; c++) {
    const a = new Float64Array(r);
    for (let t = r - 1; t >= 0; t--) {
      let v = reduced.weights[c * r + t]!;
      for (let u = t + 1; u < r; u++) v -= a[u]! * l[pivots[u]!]![t]!;
      a[t] = v / l[pivots[t]!]![t]!;
    }
    for (let t = 0; t < r; t++) {
      const row = x[pivots[t]!]!;
      for (let j = 0; j < d; j++) weights[c * d + j]! += a[t]! * row[j]!;
    }
  }
  return { weights, bias: reduced.bias, classes, features: d };
}

function fitDirect(x: readonly Float64Array[], y: readonly number[], classes: number, options: LogisticOptions): LinearModel {
  const d = x[0]?.length ?? 0;
  const size = classes * d + classes;
  const memory = 10;
  const theta = new Float64Array(size);
  let grad = new Float64Array(size);
  let loss = lossAndGradient(theta, x, y, classes, options.l2, grad);
  const s: Float64Array[] = [];
  const yk: Float64Array[] = [];
  const maxIterations = options.maxIterations ?? 500;
  for (let iter = 0; iter < maxIterations; iter++) {
    if (grad.reduce((m, v) => Math.max(m, Math.abs(v)), 0) < (options.tolerance ?? 1e-6)) break;
    // Two-loop recursion: direction = −H·grad.
    const q = Float64Array.from(grad);
    const alpha: number[] = [];
    for (let m = s.length - 1; m >= 0; m--) {
      const a = dot(s[m]!, q) / dot(yk[m]!, s[m]!);
      alpha[m] = a;
      for (let j = 0; j < size; j++) q[j]! -= a * yk[m]![j]!;
    }
    const gamma = s.length > 0 ? dot(s.at(-1)!, yk.at(-1)!) / dot(yk.at(-1)!, yk.at(-1)!) : 1 / Math.max(1, Math.sqrt(dot(grad, grad)));
    for (let j = 0; j < size; j++) q[j]! *= gamma;
    for (let m = 0; m < s.length; m++) {
      const b = dot(yk[m]!, q) / dot(yk[m]!, s[m]!);
      for (let j = 0; j < size; j++) q[j]! += s[m]![j]! * (alpha[m]! - b);
    }
    // Backtracking (Armijo) line search along −q.
    const slope = -dot(grad, q);
    if (slope >= 0) break;
    let step = 1;
    const next = new Float64Array(size);
    const nextGrad = new Float64Array(size);
    let nextLoss = Infinity;
    for (let tries = 0; tries < 40; tries++) {
      for (let j = 0; j < size; j++) next[j] = theta[j]! - step * q[j]!;
      nextLoss = lossAndGradient(next, x, y, classes, options.l2, nextGrad);
      if (nextLoss <= loss + 1e-4 * step * slope) break;
      step /= 2;
    }
    if (!(nextLoss < loss)) break;
    const converged = loss - nextLoss < 1e-10 * Math.max(1, Math.abs(loss));
    const sNew = next.map((v, j) => v - theta[j]!);
    const yNew = nextGrad.map((v, j) => v - grad[j]!);
    if (dot(sNew, yNew) > 1e-12) {
      s.push(sNew);
      yk.push(yNew);
      if (s.length > memory) {
        s.shift();
        yk.shift();
      }
    }
    theta.set(next);
    grad = nextGrad;
    loss = nextLoss;
    if (converged) break;
  }
  return { weights: theta.slice(0, classes * d), bias: theta.slice(classes * d), classes, features: d };
}

/** Class probabilities of one standardised feature vector. */
export function predictProba(model: LinearModel, x: Float64Array): Float64Array {
  const { classes: k, features: d } = model;
  const z = new Float64Array(k);
  for (let c = 0; c < k; c++) {
    let v = model.bias[c]!;
    for (let j = 0; j < d; j++) v += model.weights[c * d + j]! * x[j]!;
    z[c] = v;
  }
  const max = Math.max(...z);
  const e = z.map((v) => Math.exp(v - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}
