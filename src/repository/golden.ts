/**
 * Golden examples: images a version's manifest names with the label the model must answer for
 * each (`golden` in the manifest). A version that answers any of them otherwise is refused
 * before it serves: a retrained model that learned the wrong thing, a head composed with the
 * wrong backbone, labels in another order.
 */
import path from 'node:path';
import type { Classifier } from '../model/classifier.js';
import type { Manifest } from '../model/manifest.js';
import { VersionRefused } from './refusal.js';

/**
 * Classifies each golden example of `manifest`, one at a time (a version loads beside the one
 * serving: its checks should not take both cores), read by `read` (within the version's bounds).
 *
 * @throws {@link VersionRefused} `golden-unreadable` when an example cannot be read or decoded,
 *   `golden-mismatch` when the model answers any example otherwise.
 */
export async function checkGolden(
  classifier: Classifier,
  manifest: Manifest,
  read: (file: string, what: string) => Promise<Uint8Array>,
): Promise<void> {
  const mismatches: string[] = [];
  for (const example of manifest.golden ?? []) {
    const name = path.relative(path.dirname(manifest.file), example.file) || example.file;
    let prediction: string;
    try {
      prediction = (await classifier.classify(await read(example.file, `golden example ${name}`))).prediction;
    } catch (err) {
      if (err instanceof VersionRefused) throw err;
      const why = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      throw new VersionRefused('golden-unreadable', `golden example ${name} cannot be classified (${why})`, { cause: err });
    }
    if (prediction !== example.label) mismatches.push(`${name} answered ${prediction}, expected ${example.label}`);
  }
  if (mismatches.length > 0) {
    throw new VersionRefused('golden-mismatch', `golden examples answered otherwise: ${mismatches.join('; ')}`);
  }
}
