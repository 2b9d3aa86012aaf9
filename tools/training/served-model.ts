/**
 * The served Cat/Dog/Other model as a repository version: the composed graph (int8 backbone +
 * trained head, `compose.ts`) and the manifest that serves it, with golden examples. Shared by
 * `make model` (version 1, from the committed head) and `make train` (the next version).
 */
import { createHash } from 'node:crypto';
import { parseManifest } from '../../src/model/manifest.js';
import { encodeModel } from '../../src/model/onnx/codec.js';
import type { ModelProto } from '../../src/model/onnx/types.js';
import { MOBILENETV2_INPUT } from './backbone.js';
import { PROBABILITIES_OUTPUT, composeClassifier } from './compose.js';
import type { HeadFile } from './head-file.js';

/** A golden example: an image and the label the model must answer for it. */
export interface GoldenExample {
  /** Path in the version folder (`golden/cat.png`). */
  readonly file: string;
  readonly label: string;
  readonly bytes: Uint8Array;
}

/** The ONNX file's name in a version folder. */
export const MODEL_FILE = 'model.onnx';

/** SHA-256 in hex. */
export const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/**
 * The manifest of a version, checked as the service would check it (so that no tool writes one
 * the service refuses); `manifest` has neither `file` nor `sha256`, which come from `onnx`.
 */
export function versionManifest(onnx: Uint8Array, manifest: Record<string, unknown>, golden: readonly GoldenExample[]): Record<string, unknown> {
  const { name, description, ...rest } = manifest;
  const full = {
    name,
    description,
    file: MODEL_FILE,
    sha256: sha256(onnx),
    ...rest,
    ...(golden.length > 0 ? { golden: golden.map(({ file, label }) => ({ file, label })) } : {}),
  };
  parseManifest(full, '/version/manifest.json');
  return full;
}

/** The composed Cat/Dog/Other graph of `head` on the int8 backbone, and its manifest (without `file` and `sha256`). */
export function catdogModel(backbone: ModelProto, head: HeadFile): { readonly onnx: Uint8Array; readonly manifest: Record<string, unknown> } {
  return {
    onnx: encodeModel(composeClassifier(backbone, head, 'int8')),
    manifest: {
      name: 'catdog-mobilenetv2-head',
      description: `MobileNetV2 int8 backbone, weights re-quantised to 7 bits (exact integer arithmetic on every CPU, see INT8_WEIGHTS) + logistic-regression head trained on ${head.training.images} labelled photos (nested-CV accuracy ${head.training.nestedCvAccuracy.toFixed(3)}); softmax over ${head.labels.join(', ')}`,
      input: { ...MOBILENETV2_INPUT, resize: head.resize },
      output: { name: PROBABILITIES_OUTPUT, activation: 'none' },
      labels: head.labels,
      decision: { rule: 'argmax' },
      reference: predictionReference(head),
    },
  };
}

/**
 * The drift metric's training reference (docs/evidence.md): the share of each label among the
 * head's nested-CV predictions, each training photo predicted once by a head that did not see it
 * (the columns of `confusion[true][predicted]`): what the model answers on photos like those it
 * was trained on.
 */
function predictionReference(head: HeadFile): { predicted: Record<string, number>; answers: number; source: string } {
  const { confusion, folds } = head.training;
  const predicted = head.labels.map((_, j) => confusion.reduce((sum, row) => sum + (row[j] ?? 0), 0));
  const answers = predicted.reduce((a, b) => a + b, 0);
  return {
    predicted: Object.fromEntries(head.labels.map((label, j) => [label, predicted[j]! / answers])),
    answers,
    source: `nested ${folds}-fold cross-validation predictions on the ${head.training.images} training photos`,
  };
}

/** Serializes a manifest as the repository holds it. */
export const manifestText = (manifest: Record<string, unknown>): string => `${JSON.stringify(manifest, null, 2)}\n`;
