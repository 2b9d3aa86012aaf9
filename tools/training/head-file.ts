/**
 * The trained head as a small, committable JSON file (`resources/models/head.json`): the
 * standardisation and logistic-regression weights plus how they were obtained. It holds no
 * backbone weights, only the backbone's SHA-256 so that it is composed with the right one.
 */
import { readFile, writeFile } from 'node:fs/promises';
import type { TrainedHead } from './head.js';

/** Format tag of head files this code reads and writes. */
export const HEAD_FORMAT = 'catdog-head/1';

/** How the head was trained and how well it did (reported, not used for serving). */
export interface HeadTraining {
  readonly images: number;
  readonly perClass: Readonly<Record<string, number>>;
  readonly l2: number;
  readonly l2Grid: readonly number[];
  readonly flip: boolean;
  readonly folds: number;
  readonly seed: number;
  /** CV repetitions (fold assignments) averaged to choose the penalty. */
  readonly repeats: number;
  /** Mean k-fold CV accuracy of the chosen penalty (chosen on the same folds: slightly optimistic). */
  readonly cvAccuracy: number;
  /** Nested-CV accuracy (penalty chosen inside each outer training fold): the honest figure. */
  readonly nestedCvAccuracy: number;
  /** Nested-CV `confusion[true][predicted]`, in label order. */
  readonly confusion: readonly (readonly number[])[];
  /** The labelled captures among the images (`images` and `perClass` count them too), and those held out; absent when none were read. */
  readonly captures?: CapturesTraining;
}

/** What the labelled captures gave a training run (`make train`, tools/training/held-out.ts). */
export interface CapturesTraining {
  /** Captured photos trained on, by label (some may be development photos too, relabelled). */
  readonly perClass: Readonly<Record<string, number>>;
  /** Captured photos held out (never trained on), by label. */
  readonly heldOutPerClass: Readonly<Record<string, number>>;
  /** The share of the captured photos held out, by their SHA-256. */
  readonly heldOutShare: number;
}

/** The head file's content. */
export interface HeadFile {
  readonly format: typeof HEAD_FORMAT;
  /** Served labels, in output order. */
  readonly labels: readonly string[];
  readonly backbone: { readonly file: string; readonly sha256: string; readonly features: number };
  /** Resize mode the training features were computed with; the served manifest must use it. */
  readonly resize: 'fill' | 'cover' | 'contain';
  readonly mean: readonly number[];
  readonly std: readonly number[];
  /** `labels × features`, on standardised features. */
  readonly weights: readonly (readonly number[])[];
  readonly bias: readonly number[];
  readonly training: HeadTraining;
}

/** Float32 precision is all the ONNX graph keeps; 9 significant digits round-trip it. */
const f32 = (v: number): number => Number(Math.fround(v).toPrecision(9));

/** Builds the head file content from a trained head. */
export function toHeadFile(
  head: TrainedHead,
  meta: Pick<HeadFile, 'labels' | 'backbone' | 'resize' | 'training'>,
): HeadFile {
  const { classes: k, features: d } = head.model;
  return {
    format: HEAD_FORMAT,
    labels: meta.labels,
    backbone: meta.backbone,
    resize: meta.resize,
    mean: Array.from(head.standardizer.mean, f32),
    std: Array.from(head.standardizer.std, f32),
    weights: Array.from({ length: k }, (_, c) => Array.from(head.model.weights.subarray(c * d, (c + 1) * d), f32)),
    bias: Array.from(head.model.bias, f32),
    training: meta.training,
  };
}

/** Checks a parsed head file's shape; throws naming every problem. */
export function parseHeadFile(value: unknown, file: string): HeadFile {
  const h = value as Partial<HeadFile>;
  const problems: string[] = [];
  if (h?.format !== HEAD_FORMAT) problems.push(`format is not ${HEAD_FORMAT}`);
  const k = h?.labels?.length ?? 0;
  const d = h?.backbone?.features ?? 0;
  if (k < 2) problems.push('needs at least two labels');
  if (!/^[0-9a-f]{64}$/.test(h?.backbone?.sha256 ?? '')) problems.push('backbone.sha256 is not a SHA-256');
  if (h?.mean?.length !== d || h?.std?.length !== d) problems.push(`mean/std must have ${d} values`);
  if (h?.weights?.length !== k || h.weights.some((row) => row.length !== d)) problems.push(`weights must be ${k} × ${d}`);
  if (h?.bias?.length !== k) problems.push(`bias must have ${k} values`);
  if (!['fill', 'cover', 'contain'].includes(h?.resize ?? '')) problems.push('resize must be fill, cover or contain');
  if (problems.length > 0) throw new Error(`head file ${file}: ${problems.join('; ')}`);
  return h as HeadFile;
}

/** Reads and checks a head file. */
export async function readHeadFile(file: string): Promise<HeadFile> {
  return parseHeadFile(JSON.parse(await readFile(file, 'utf8')), file);
}

/** A head file's text: one line per array, so diffs stay readable. */
export function headFileText(head: HeadFile): string {
  const text = JSON.stringify(head, (_key, v: unknown) => (Array.isArray(v) && v.every((x) => typeof x === 'number') ? JSON.stringify(v) : v), 2)
    .replace(/"(\[[^"]*\])"/g, '$1');
  return `${text}\n`;
}

/** Writes a head file ({@link headFileText}). */
export async function writeHeadFile(file: string, head: HeadFile): Promise<void> {
  await writeFile(file, headFileText(head));
}
