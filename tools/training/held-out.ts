/**
 * The held-out part of the captures, and the training set it leaves (`make train`, issue 25).
 *
 * The split goes by the image's SHA-256, not by a seed: a photo is held out when the first 52
 * bits of its SHA-256, read as a fraction of 2^52, fall below the share (default
 * {@link HELD_OUT_SHARE}). So a photo stays on its side whatever else is captured, labelled or
 * removed, and whatever the options: no version `make train` publishes has trained on a photo it
 * is later judged on, and the serving version and the new head are judged on the same photos.
 * SHA-256 is uniform, so about that share of the photos is held out (with few captures, possibly
 * none: then there is nothing to judge on, and training says so).
 *
 * The development photos (`TRAIN_DATA`) are never held out. A captured photo that is also a
 * development photo (the same bytes) is one photo: held out, it leaves the training set; for
 * training, it takes its capture's label (the latest word on it) in the development photo's place.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { CapturedPhoto } from './captures.js';
import type { CapturesTraining } from './head-file.js';
import type { LabelledImage } from './labels.js';

/** The share of the captured photos held out by default. */
export const HELD_OUT_SHARE = 0.2;

/** Where an image falls in [0, 1): the first 13 hex digits (52 bits, exact in a double) of its SHA-256 over 2^52. */
export function splitPoint(sha256: string): number {
  return Number.parseInt(sha256.slice(0, 13), 16) / 2 ** 52;
}

/** Whether the image `sha256` is held out at `share` (0: none, 1: all). */
export function isHeldOut(sha256: string, share: number): boolean {
  return splitPoint(sha256) < share;
}

/** The training set of development photos and captures, and the captures held out. */
export interface TrainingSet {
  /** Development photos (in their labels file's order), then the captured photos that are not one. */
  readonly images: readonly LabelledImage[];
  /** The captured photos trained on (some of them development photos too). */
  readonly captured: readonly CapturedPhoto[];
  /** The captured photos held out: never trained on. */
  readonly heldOut: readonly CapturedPhoto[];
  /** Development photos trained on, as given (not replaced by a capture). */
  readonly development: number;
  /** Captured photos that are development photos too: trained on with the capture's label, `relabelled` of them with another label; `withheld`: held out, so not trained on. */
  readonly overlap: { readonly replaced: number; readonly relabelled: number; readonly withheld: number };
}

const sha256Of = async (file: string): Promise<string> => createHash('sha256').update(await readFile(file)).digest('hex');

/** Combines the development photos and the captured ones, holding out `share` of the captured ones. */
export async function trainingSet(development: readonly LabelledImage[], captured: readonly CapturedPhoto[], share: number): Promise<TrainingSet> {
  const heldOut = captured.filter((p) => isHeldOut(p.sha256, share));
  const training = captured.filter((p) => !isHeldOut(p.sha256, share));
  const withheldHashes = new Set(heldOut.map((p) => p.sha256));
  const capturedByHash = new Map(training.map((p) => [p.sha256, p]));
  const used = new Set<string>();
  const images: LabelledImage[] = [];
  let withheld = 0;
  let relabelled = 0;
  let kept = 0;
  for (const image of development) {
    const hash = captured.length > 0 ? await sha256Of(image.file) : '';
    const capture = capturedByHash.get(hash);
    if (withheldHashes.has(hash)) {
      withheld++;
    } else if (capture && !used.has(hash)) {
      used.add(hash);
      if (capture.label !== image.label) relabelled++;
      images.push({ file: image.file, label: capture.label });
    } else if (!capture) {
      kept++;
      images.push(image);
    }
  }
  images.push(...training.filter((p) => !used.has(p.sha256)));
  return { images, captured: training, heldOut, development: kept, overlap: { replaced: used.size, relabelled, withheld } };
}

/** What the head file records of the captures of `set` (`training.captures`). */
export function capturesTraining(labels: readonly string[], set: TrainingSet, share: number): CapturesTraining {
  const byLabel = (photos: readonly CapturedPhoto[]) => Object.fromEntries(labels.map((l, c) => [l, photos.filter((p) => p.label === c).length]));
  return { perClass: byLabel(set.captured), heldOutPerClass: byLabel(set.heldOut), heldOutShare: share };
}
