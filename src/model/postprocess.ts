/**
 * Model outputs → served probabilities and prediction, as the manifest's `output`,
 * `grouping` and `decision` describe.
 */
import type { Manifest } from './manifest.js';

/** A classification as served: one probability per label, and the chosen label. */
export interface Classification {
  readonly prediction: string;
  /** Probability of each of `labels`, in order. */
  readonly values: readonly number[];
  readonly labels: readonly string[];
}

/** Applies the output activation to one row of raw outputs. */
export function activate(row: Float32Array, activation: Manifest['output']['activation']): Float64Array {
  const out = new Float64Array(row.length);
  if (activation === 'softmax') {
    let max = -Infinity;
    for (const v of row) if (v > max) max = v;
    let sum = 0;
    for (let i = 0; i < row.length; i++) sum += out[i] = Math.exp(row[i]! - max);
    for (let i = 0; i < row.length; i++) out[i]! /= sum;
  } else if (activation === 'sigmoid') {
    for (let i = 0; i < row.length; i++) out[i] = 1 / (1 + Math.exp(-row[i]!));
  } else {
    out.set(row);
  }
  return out;
}

/** Builds the function that turns one row of model outputs into a {@link Classification}. */
export function createPostprocessor(manifest: Manifest): (row: Float32Array) => Classification {
  const { labels, grouping, decision, output } = manifest;
  // For each model class, the index of the served label it counts towards.
  let classToLabel: Int32Array | undefined;
  if (grouping) {
    classToLabel = new Int32Array(grouping.classes).fill(labels.indexOf(grouping.rest));
    for (const [label, ranges] of Object.entries(grouping.groups)) {
      const target = labels.indexOf(label);
      for (const [first, last] of ranges) classToLabel.fill(target, first, last + 1);
    }
  }
  const among = decision.rule === 'threshold' ? decision.among.map((l) => labels.indexOf(l)) : [];

  return function postprocess(row: Float32Array): Classification {
    const probs = activate(row, output.activation);
    let values: number[];
    if (classToLabel) {
      values = new Array<number>(labels.length).fill(0);
      for (let i = 0; i < probs.length; i++) values[classToLabel[i]!]! += probs[i]!;
    } else {
      values = Array.from(probs);
    }
    let prediction: string;
    if (decision.rule === 'threshold') {
      let sum = 0;
      let best = among[0]!;
      for (const i of among) {
        sum += values[i]!;
        if (values[i]! > values[best]!) best = i;
      }
      prediction = sum >= decision.minSum ? labels[best]! : decision.otherwise;
    } else {
      prediction = labels[argmax(values)]!;
    }
    return { prediction, values, labels };
  };
}

function argmax(values: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}
