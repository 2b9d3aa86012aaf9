/**
 * Training a head on backbone features: standardisation, then the logistic regression, with
 * optional mirrored copies of the training images.
 */
import type { ImageFeatures } from './features.js';
import type { LinearModel } from './logistic.js';
import { fitLogistic, predictProba } from './logistic.js';

/** Per-feature mean and standard deviation of the training features. */
export interface Standardizer {
  readonly mean: Float64Array;
  readonly std: Float64Array;
}

/** A trained head: standardisation then the linear softmax classifier. */
export interface TrainedHead {
  readonly standardizer: Standardizer;
  readonly model: LinearModel;
}

/** Options of {@link trainHead}. */
export interface HeadOptions {
  /** L2 penalty of the logistic regression. */
  readonly l2: number;
  /** Train on the mirrored images too (when extracted). */
  readonly flip: boolean;
}

/** Mean and std (population; a constant feature gets std 1) of rows. */
function fitStandardizer(rows: readonly Float32Array[]): Standardizer {
  const d = rows[0]?.length ?? 0;
  const mean = new Float64Array(d);
  const std = new Float64Array(d);
  for (const r of rows) for (let j = 0; j < d; j++) mean[j]! += r[j]! / rows.length;
  for (const r of rows) for (let j = 0; j < d; j++) std[j]! += (r[j]! - mean[j]!) ** 2 / rows.length;
  for (let j = 0; j < d; j++) std[j] = std[j]! > 1e-12 ? Math.sqrt(std[j]!) : 1;
  return { mean, std };
}

/** Standardises one feature vector. */
function standardize(s: Standardizer, row: Float32Array): Float64Array {
  return Float64Array.from(row, (v, j) => (v - s.mean[j]!) / s.std[j]!);
}

/** Trains a head on the images `indices` of `features` with class indices `labels`. */
export function trainHead(features: readonly ImageFeatures[], labels: readonly number[], indices: readonly number[], classes: number, options: HeadOptions): TrainedHead {
  const rows: Float32Array[] = [];
  const y: number[] = [];
  for (const i of indices) {
    const f = features[i]!;
    rows.push(f.original);
    y.push(labels[i]!);
    if (options.flip && f.flipped) {
      rows.push(f.flipped);
      y.push(labels[i]!);
    }
  }
  const standardizer = fitStandardizer(rows);
  const model = fitLogistic(
    rows.map((r) => standardize(standardizer, r)),
    y,
    classes,
    { l2: options.l2 },
  );
  return { standardizer, model };
}

/** Class probabilities the head gives one image's (unflipped) features. */
export function headProba(head: TrainedHead, features: Float32Array): Float64Array {
  return predictProba(head.model, standardize(head.standardizer, features));
}
