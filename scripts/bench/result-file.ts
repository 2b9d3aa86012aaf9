/**
 * Where a benchmark writes its raw figures unless told (`--json`): `.bench/<kind>-<UTC time to the
 * second>.<ext>`, so that runs started within the same minute keep a file each.
 */
import path from 'node:path';
import { rootDir } from '../../src/spec.js';

/** `2026-12-07T194512` for 2026-12-07T19:45:12.345Z. */
function resultStamp(date: Date = new Date()): string {
  return date.toISOString().replace(/[:.]/g, '').slice(0, 17);
}

/** `.bench/<kind>-<stamp>.<ext>` in the checkout. */
export function resultFile(kind: string, date: Date = new Date(), ext = 'json'): string {
  return path.join(rootDir, '.bench', `${kind}-${resultStamp(date)}.${ext}`);
}
