/**
 * The server as the Open Inference Protocol's server metadata describes it.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { rootDir } from '../spec.js';

/**
 * The protocol extensions served, as Triton names them: its binary tensor data extension, its
 * classification extension and its model repository extension (`POST /v2/repository/...`).
 */
export const SERVER_EXTENSIONS: readonly string[] = Object.freeze(['binary_tensor_data', 'classification', 'model_repository']);

/** The server's name in its metadata. */
export const SERVER_NAME = 'cat-dog-other';

/** The server's version: the package's, read once. */
export function serverVersion(): string {
  const pkg = JSON.parse(readFileSync(path.join(rootDir, 'package.json'), 'utf8')) as { version?: unknown };
  return typeof pkg.version === 'string' ? pkg.version : '0.0.0';
}
