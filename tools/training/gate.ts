/**
 * The held-out gate of `make train` (issue 25): the new head is published only if it is not worse
 * on the held-out captures (held-out.ts) than the serving version, the newest version of the
 * model in the repository (the one a service polling it serves, unless an operator pinned
 * another). Both are loaded and run as the service runs them (the served ONNX file through
 * src/model/classifier.ts), on the same photos; "not worse" is: at least as many answered right.
 *
 * Nothing to judge on, nothing refused: with no held-out photo, or no version to compare with,
 * the new head is published on its cross-validation alone, and the report says so. A newest
 * version that cannot be loaded is not served either (the service keeps the previous one): the
 * gate then compares with the newest that loads.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadClassifier } from '../../src/model/classifier.js';
import { loadManifest, parseManifest, type Manifest } from '../../src/model/manifest.js';
import { versionsOf } from '../repository/publish.js';
import type { LabelledImage } from './labels.js';
import { MODEL_FILE, versionManifest } from './served-model.js';

/** How a model answered the held-out photos. */
export interface HeldOutScore {
  readonly images: number;
  readonly correct: number;
  /** Right answers and photos, by true label (in the head's label order). */
  readonly byLabel: readonly { readonly correct: number; readonly images: number }[];
}

/** What the gate found, and whether to publish. */
export interface GateVerdict {
  readonly publish: boolean;
  /** One sentence: why it publishes or not. */
  readonly reason: string;
  readonly heldOut: number;
  readonly candidate: HeldOutScore | undefined;
  readonly serving: { readonly version: number; readonly score: HeldOutScore } | undefined;
  /** Newer versions than `serving` that could not be loaded, and why. */
  readonly unloadable: readonly { readonly version: number; readonly reason: string }[];
}

/** Where the gate looks for the serving version. */
export interface GateOptions {
  readonly repository: string;
  readonly model: string;
  /** The head's labels, in order. */
  readonly labels: readonly string[];
}

const LIMITS = { maxImagePixels: 100_000_000 };

async function score(manifest: Manifest, photos: readonly LabelledImage[], labels: readonly string[]): Promise<HeldOutScore> {
  const classifier = await loadClassifier(manifest, LIMITS, { workers: 0 });
  try {
    const byLabel = labels.map(() => ({ correct: 0, images: 0 }));
    for (const photo of photos) {
      const { prediction } = await classifier.classify(await readFile(photo.file));
      const tally = byLabel[photo.label]!;
      tally.images++;
      if (prediction.toLowerCase() === labels[photo.label]!.toLowerCase()) tally.correct++;
    }
    return { images: photos.length, correct: byLabel.reduce((s, t) => s + t.correct, 0), byLabel };
  } finally {
    await classifier.close();
  }
}

/** Scores the not yet published model (written to a temporary folder, loaded as the service would). */
async function scoreCandidate(model: { readonly onnx: Uint8Array; readonly manifest: Record<string, unknown> }, photos: readonly LabelledImage[], labels: readonly string[]): Promise<HeldOutScore> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'catdog-candidate-'));
  try {
    await writeFile(path.join(dir, MODEL_FILE), model.onnx);
    return await score(parseManifest(versionManifest(model.onnx, model.manifest, []), path.join(dir, 'manifest.json')), photos, labels);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Judges the new model (`candidate`, not yet published) against the serving version on the held-out photos. */
export async function heldOutGate(
  candidate: { readonly onnx: Uint8Array; readonly manifest: Record<string, unknown> },
  heldOut: readonly LabelledImage[],
  options: GateOptions,
): Promise<GateVerdict> {
  const none = { heldOut: heldOut.length, candidate: undefined, serving: undefined, unloadable: [] };
  if (heldOut.length === 0) {
    return { ...none, publish: true, reason: 'no held-out captures to judge the new head on: it goes by its cross-validation alone' };
  }
  const candidateScore = await scoreCandidate(candidate, heldOut, options.labels);
  const unloadable: { version: number; reason: string }[] = [];
  const versions = (await versionsOf(options.repository, options.model)).sort((a, b) => b - a);
  for (const version of versions) {
    let servingScore: HeldOutScore;
    try {
      const manifest = await loadManifest(path.join(options.repository, options.model, String(version), 'manifest.json'));
      servingScore = await score(manifest, heldOut, options.labels);
    } catch (err) {
      unloadable.push({ version, reason: (err as Error).message });
      continue;
    }
    const serving = { version, score: servingScore };
    const against = `on the ${heldOut.length} held-out captures (${candidateScore.correct} right against ${servingScore.correct})`;
    return candidateScore.correct >= servingScore.correct
      ? { ...none, candidate: candidateScore, serving, unloadable, publish: true, reason: `the new head is not worse than ${options.model} version ${version}, the serving version, ${against}` }
      : { ...none, candidate: candidateScore, serving, unloadable, publish: false, reason: `the new head is worse than ${options.model} version ${version}, the serving version, ${against}` };
  }
  return {
    ...none,
    candidate: candidateScore,
    unloadable,
    publish: true,
    reason: `no version of ${options.model} in ${options.repository}${unloadable.length > 0 ? ' that loads' : ''} to compare the new head with: it goes by its cross-validation alone`,
  };
}

const fraction = (s: HeldOutScore, labels: readonly string[]): string =>
  `${s.correct}/${s.images} right (accuracy ${(s.correct / s.images).toFixed(4)}; ${labels.map((l, i) => `${l} ${s.byLabel[i]!.correct}/${s.byLabel[i]!.images}`).join(', ')})`;

/** The gate's report, a few lines for the console. */
export function formatVerdict(verdict: GateVerdict, options: GateOptions): string {
  const lines: string[] = [];
  if (verdict.heldOut > 0) lines.push(`held-out captures (${verdict.heldOut} photos, never trained on), answered as the service answers:`);
  if (verdict.candidate) lines.push(`  new head                        ${fraction(verdict.candidate, options.labels)}`);
  for (const { version, reason } of verdict.unloadable) lines.push(`  ${options.model} version ${version}: cannot be loaded, so not served (${reason})`);
  if (verdict.serving) lines.push(`  ${`${options.model} version ${verdict.serving.version} (serving)`.padEnd(32)}${fraction(verdict.serving.score, options.labels)}`);
  return lines.join('\n');
}
