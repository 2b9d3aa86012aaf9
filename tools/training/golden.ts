/**
 * Golden examples for a new version: one photo per label, the first of that label (in the
 * labels file's order) that the new model, loaded as the service loads it, answers right. The
 * service then refuses the version if it ever answers them otherwise (a wrong backbone, labels
 * out of order, a broken composition). They are training photos: a regression check, not a
 * measure of accuracy.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadClassifier } from '../../src/model/classifier.js';
import { parseManifest } from '../../src/model/manifest.js';
import type { LabelledImage } from './labels.js';
import { MODEL_FILE, versionManifest, type GoldenExample } from './served-model.js';

/** Chooses the golden examples of `model` among `images`, one per label of `labels` that has one. */
export async function chooseGolden(
  model: { readonly onnx: Uint8Array; readonly manifest: Record<string, unknown> },
  images: readonly LabelledImage[],
  labels: readonly string[],
): Promise<GoldenExample[]> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'catdog-golden-'));
  try {
    await writeFile(path.join(dir, MODEL_FILE), model.onnx);
    const manifest = parseManifest(versionManifest(model.onnx, model.manifest, []), path.join(dir, 'manifest.json'));
    const classifier = await loadClassifier(manifest, { maxImagePixels: 40_000_000 }, { workers: 0 });
    try {
      const golden: GoldenExample[] = [];
      for (const [index, label] of labels.entries()) {
        for (const image of images.filter((i) => i.label === index)) {
          const bytes = await readFile(image.file);
          if ((await classifier.classify(bytes)).prediction !== label) continue;
          golden.push({ file: `golden/${label.toLowerCase()}-${path.basename(image.file)}`, label, bytes });
          break;
        }
      }
      return golden;
    } finally {
      await classifier.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
