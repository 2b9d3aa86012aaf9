/**
 * Plain-text rendering of training results (confusion matrix, per-class recall, the photos the
 * captures gave), for the CLI.
 */
import type { CapturedPhotos } from './captures.js';
import type { TrainingSet } from './held-out.js';

/** Renders `confusion[true][predicted]` with row/column labels and per-class recall. */
export function formatConfusion(labels: readonly string[], confusion: readonly (readonly number[])[]): string {
  const width = Math.max(8, ...labels.map((l) => l.length + 2));
  const pad = (s: string | number): string => String(s).padStart(width);
  const lines = [`${'true \\ predicted'.padEnd(18)}${labels.map(pad).join('')}${pad('recall')}`];
  confusion.forEach((row, i) => {
    const total = row.reduce((a, b) => a + b, 0);
    const recall = total === 0 ? 0 : row[i]! / total;
    lines.push(`${labels[i]!.padEnd(18)}${row.map(pad).join('')}${pad(recall.toFixed(3))}`);
  });
  return lines.join('\n');
}

/** `3 Cat, 0 Dog, 2 Other`: how many of `items` have each label. */
function formatCounts(labels: readonly string[], items: readonly { readonly label: number }[]): string {
  return labels.map((l, c) => `${items.filter((i) => i.label === c).length} ${l}`).join(', ');
}

/** What the labelled captures gave a training run, in a few lines (issue 25: how many of each label came from them). */
export function formatCaptureSources(
  labels: readonly string[],
  captured: CapturedPhotos,
  set: TrainingSet,
  share: number,
): string {
  const lines = [
    `train: labelled captures in ${captured.dir}: ${captured.labelledCaptures} labelled answers, ${captured.photos.length} distinct photos`,
    `train:   from the captures, trained on: ${formatCounts(labels, set.captured)} (${set.captured.length} photos)`,
    `train:   held out (${share} of them by SHA-256, never trained on): ${formatCounts(labels, set.heldOut)} (${set.heldOut.length} photos)`,
  ];
  const { replaced, relabelled, withheld } = set.overlap;
  if (replaced + withheld > 0) {
    lines.push(`train:   development photos captured too: ${replaced} trained on with their capture's label (${relabelled} relabelled), ${withheld} held out and not trained on`);
  }
  const other = [...captured.leftOut.byLabel].map(([label, n]) => `${n} labelled "${label}"`);
  if (other.length > 0) lines.push(`train:   left out, labels this head does not have (${labels.join(', ')}): ${other.join(', ')}`);
  if (captured.leftOut.missingImages > 0) lines.push(`train:   left out, image removed from the store since: ${captured.leftOut.missingImages}`);
  return lines.join('\n');
}
