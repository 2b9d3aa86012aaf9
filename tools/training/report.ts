/**
 * Plain-text rendering of training results (confusion matrix, per-class recall), for the CLI.
 */

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
