/**
 * Accuracy of a classifier over a labelled image folder (`labels.json`:
 * `[{"file": "...", "label": "cat"}]`); labels match served labels case-insensitively.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Classifier } from '../src/model/classifier.js';

/** Per-folder figures. */
export interface Evaluation {
  readonly images: number;
  readonly correct: number;
  readonly accuracy: number;
  /** confusion[trueLabel][predictedLabel] = count */
  readonly confusion: Readonly<Record<string, Readonly<Record<string, number>>>>;
  readonly msPerImage: number;
}

/** One labelled image. */
export interface LabelledImage {
  readonly file: string;
  readonly label: string;
}

/** Reads `labels.json` from a data folder; images are in `images/` beside it. */
export async function readLabelledFolder(folder: string): Promise<LabelledImage[]> {
  const entries = JSON.parse(await readFile(path.join(folder, 'labels.json'), 'utf8')) as LabelledImage[];
  return entries.map((e) => ({ file: path.join(folder, 'images', e.file), label: e.label }));
}

/** Classifies every image in turn and compares with its label. */
export async function evaluate(classifier: Classifier, images: readonly LabelledImage[]): Promise<Evaluation> {
  const confusion: Record<string, Record<string, number>> = {};
  let correct = 0;
  let elapsedMs = 0;
  for (const { file, label } of images) {
    const bytes = await readFile(file);
    const started = performance.now();
    const { prediction } = await classifier.classify(bytes);
    elapsedMs += performance.now() - started;
    const truth = classifier.labels.find((l) => l.toLowerCase() === label.toLowerCase()) ?? label;
    const row = (confusion[truth] ??= {});
    row[prediction] = (row[prediction] ?? 0) + 1;
    if (prediction === truth) correct++;
  }
  return {
    images: images.length,
    correct,
    accuracy: images.length === 0 ? 0 : correct / images.length,
    confusion,
    msPerImage: images.length === 0 ? 0 : elapsedMs / images.length,
  };
}
