/**
 * Reading labelled images: `labels.json` (`[{"file": "a.png", "label": "cat"}]`) or the course's
 * labelling export (`{"annotations": [{"fileName": "a.png", "annotation": {"label": "cat"}}]}`).
 * Labels match the served labels case-insensitively.
 */
import { access, readFile } from 'node:fs/promises';
import path from 'node:path';

/** One labelled image: absolute path and index into the served labels. */
export interface LabelledImage {
  readonly file: string;
  readonly label: number;
}

/** A labels file that cannot be used; the message names the file and every problem. */
export class LabelsError extends Error {
  readonly code = 'invalid-labels';
  constructor(file: string, problems: readonly string[], options?: ErrorOptions) {
    super(`labels ${file}: ${problems.join('; ')}`, options);
    this.name = 'LabelsError';
  }
}

/** A file name or label as the labels file gives it: a string or a number, else empty (refused later). */
const text = (value: unknown): string => (typeof value === 'string' || typeof value === 'number' ? String(value) : '');

/** Extracts `{file, label}` pairs from either accepted format. */
export function parseLabelEntries(value: unknown): { file: string; label: string }[] | undefined {
  const pairs = (list: unknown[], file: (e: Record<string, unknown>) => unknown, label: (e: Record<string, unknown>) => unknown) =>
    list.map((e) => {
      const entry = (e ?? {}) as Record<string, unknown>;
      return { file: text(file(entry)), label: text(label(entry)) };
    });
  if (Array.isArray(value)) return pairs(value, (e) => e.file, (e) => e.label);
  const annotations = (value as { annotations?: unknown } | null)?.annotations;
  if (Array.isArray(annotations)) {
    return pairs(annotations, (e) => e.fileName, (e) => (e.annotation as Record<string, unknown> | undefined)?.label);
  }
  return undefined;
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

/**
 * Reads a labels file; image paths are resolved against `imagesDir` (a course export's
 * `fileName` may carry folders: its base name is tried too). Every problem is reported at once.
 */
export async function readLabels(labelsFile: string, imagesDir: string, servedLabels: readonly string[]): Promise<LabelledImage[]> {
  let value: unknown;
  try {
    value = JSON.parse(await readFile(labelsFile, 'utf8'));
  } catch (err) {
    throw new LabelsError(labelsFile, [`cannot be read as JSON (${(err as Error).message})`], { cause: err });
  }
  const entries = parseLabelEntries(value);
  if (!entries) throw new LabelsError(labelsFile, ['is neither [{"file","label"}] nor {"annotations": [{"fileName","annotation":{"label"}}]}']);
  const lower = servedLabels.map((l) => l.toLowerCase());
  const problems: string[] = [];
  const images: LabelledImage[] = [];
  for (const [i, { file, label }] of entries.entries()) {
    const index = lower.indexOf(label.toLowerCase());
    if (index < 0) problems.push(`entry ${i} (${file}): label "${label}" is not one of ${servedLabels.join(', ')}`);
    const candidates = [path.resolve(imagesDir, file), path.resolve(imagesDir, path.basename(file))];
    let found: string | undefined;
    for (const c of candidates) if (!found && (await exists(c))) found = c;
    if (!found) problems.push(`entry ${i}: image ${file} not found in ${imagesDir}`);
    if (index >= 0 && found) images.push({ file: found, label: index });
  }
  if (problems.length > 0) throw new LabelsError(labelsFile, problems);
  if (images.length === 0) throw new LabelsError(labelsFile, ['no images']);
  return images;
}
