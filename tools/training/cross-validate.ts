/**
 * Stratified k-fold cross-validation of the head, the choice of its L2 penalty, and nested
 * cross-validation of that choice (so the reported accuracy is not tuned to the folds it is
 * measured on).
 */
import type { ImageFeatures } from './features.js';
import type { HeadOptions } from './head.js';
import { headProba, trainHead } from './head.js';
import { seededRandom, shuffled } from './random.js';

/** Out-of-fold results. */
export interface CrossValidation {
  /** Predicted class of each image when it was held out. */
  readonly predictions: number[];
  readonly accuracy: number;
  /** Mean negative log-likelihood of the true class. */
  readonly logLoss: number;
  /** `confusion[true][predicted]` counts. */
  readonly confusion: number[][];
}

/** Assigns each item a fold in 0..k-1, stratified by label, shuffled with `seed`. */
export function stratifiedFolds(labels: readonly number[], k: number, seed: number): number[] {
  const random = seededRandom(seed);
  const fold = new Array<number>(labels.length).fill(0);
  const classes = [...new Set(labels)].sort((a, b) => a - b);
  let next = 0;
  for (const c of classes) {
    const members = shuffled(labels.flatMap((l, i) => (l === c ? [i] : [])), random);
    // Continue the round-robin across classes so fold sizes differ by at most one.
    for (const i of members) fold[i] = next++ % k;
  }
  return fold;
}

function summarise(labels: readonly number[], indices: readonly number[], proba: ReadonlyMap<number, Float64Array>, classes: number): CrossValidation {
  const confusion = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  const predictions = new Array<number>(labels.length).fill(-1);
  let correct = 0;
  let logLoss = 0;
  for (const i of indices) {
    const p = proba.get(i)!;
    const predicted = p.indexOf(Math.max(...p));
    predictions[i] = predicted;
    confusion[labels[i]!]![predicted]!++;
    if (predicted === labels[i]) correct++;
    logLoss -= Math.log(Math.max(p[labels[i]!]!, 1e-15));
  }
  return { predictions, accuracy: correct / indices.length, logLoss: logLoss / indices.length, confusion };
}

/** k-fold cross-validation of one head configuration over the images `indices`. */
export function crossValidate(
  features: readonly ImageFeatures[],
  labels: readonly number[],
  classes: number,
  options: HeadOptions & { readonly folds: number; readonly seed: number; readonly indices?: readonly number[] },
): CrossValidation {
  const indices = options.indices ?? labels.map((_, i) => i);
  const fold = stratifiedFolds(indices.map((i) => labels[i]!), options.folds, options.seed);
  const proba = new Map<number, Float64Array>();
  for (let f = 0; f < options.folds; f++) {
    const train = indices.filter((_, j) => fold[j] !== f);
    const test = indices.filter((_, j) => fold[j] === f);
    if (test.length === 0) continue;
    const head = trainHead(features, labels, train, classes, options);
    for (const i of test) proba.set(i, headProba(head, features[i]!.original));
  }
  return summarise(labels, indices, proba, classes);
}

/** Options of {@link selectL2}. */
export interface SelectionOptions {
  readonly flip: boolean;
  readonly folds: number;
  readonly seed: number;
  /** CV repetitions with different fold assignments (seeds `seed`, `seed + 1`, …). Default 1. */
  readonly repeats?: number;
  /** Images to use (default all). */
  readonly indices?: readonly number[];
}

/**
 * Picks the L2 penalty with the best mean accuracy over `repeats` k-fold CVs; among ties the
 * largest penalty (the simplest head), as accuracy on a few dozen held-out images cannot tell
 * them apart. Each result reports the first repetition's CV and the mean accuracy.
 */
export function selectL2(
  features: readonly ImageFeatures[],
  labels: readonly number[],
  classes: number,
  grid: readonly number[],
  options: SelectionOptions,
): { l2: number; results: { l2: number; cv: CrossValidation; meanAccuracy: number }[] } {
  const repeats = options.repeats ?? 1;
  const results = grid.map((l2) => {
    const runs = Array.from({ length: repeats }, (_, r) => crossValidate(features, labels, classes, { ...options, l2, seed: options.seed + r }));
    return { l2, cv: runs[0]!, meanAccuracy: runs.reduce((s, cv) => s + cv.accuracy, 0) / repeats };
  });
  const best = [...results].sort((a, b) => b.meanAccuracy - a.meanAccuracy || b.l2 - a.l2)[0]!;
  return { l2: best.l2, results };
}

/**
 * Nested cross-validation: in each outer fold the penalty is chosen by an inner CV on the
 * outer training images only, then the head is trained there and tested on the held-out fold.
 */
export function nestedCrossValidate(
  features: readonly ImageFeatures[],
  labels: readonly number[],
  classes: number,
  grid: readonly number[],
  options: Omit<SelectionOptions, 'indices'>,
): CrossValidation & { readonly chosen: number[] } {
  const fold = stratifiedFolds(labels, options.folds, options.seed);
  const proba = new Map<number, Float64Array>();
  const chosen: number[] = [];
  for (let f = 0; f < options.folds; f++) {
    const train = labels.flatMap((_, i) => (fold[i] !== f ? [i] : []));
    // Inner folds use other seeds than the outer split, as a user's CV would.
    const { l2 } = selectL2(features, labels, classes, grid, { ...options, seed: options.seed + 100, indices: train });
    chosen.push(l2);
    const head = trainHead(features, labels, train, classes, { l2, flip: options.flip });
    for (let i = 0; i < labels.length; i++) if (fold[i] === f) proba.set(i, headProba(head, features[i]!.original));
  }
  return { ...summarise(labels, labels.map((_, i) => i), proba, classes), chosen };
}
