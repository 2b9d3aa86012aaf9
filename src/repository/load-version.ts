/**
 * Loads one version of a model and checks it before it may serve: its manifest (schema and
 * cross-references), its ONNX file's SHA-256, a session that onnxruntime can create and whose
 * input and output match the manifest (`loadClassifier`), one warm-up inference, and its
 * golden examples. Each version gets its own inference engine (worker threads, sessions) and
 * batcher; closing its classifier releases them.
 */
import path from 'node:path';
import { warmUp } from './warm-up.js';
import { createClassifier, type ClassifierOptions } from '../model/classifier.js';
import { ManifestError, parseManifest, type Manifest, type ManifestErrorCode } from '../model/manifest.js';
import type { PreprocessLimits } from '../model/image/preprocess.js';
import { checkGolden } from './golden.js';
import type { VersionFiles } from './layout.js';
import { VersionRefused } from './refusal.js';
import type { ServedModel } from './types.js';
import { GOLDEN_BOUNDS, MANIFEST_BOUNDS, MODEL_READ_TIMEOUT_MS, readVersionFile, type VersionFolder } from './version-files.js';

/** How versions are loaded: the same limits and engine settings for each. */
export interface VersionLoadOptions {
  readonly limits: PreprocessLimits;
  readonly classifier: ClassifierOptions;
  /** Largest model file read (`MAX_MODEL_BYTES`). */
  readonly maxModelBytes: number;
}

/** Reads and validates the manifest of the version in `folder`, within its bounds. */
async function readManifest(folder: VersionFolder, manifestPath: string): Promise<Manifest> {
  const text = await readVersionFile(folder, manifestPath, 'manifest.json', MANIFEST_BOUNDS, { code: 'manifest-unreadable' });
  let value: unknown;
  try {
    value = JSON.parse(text.toString('utf8'));
  } catch (err) {
    throw new ManifestError('manifest-invalid', manifestPath, [`is not JSON (${(err as Error).message})`], { cause: err });
  }
  return parseManifest(value, manifestPath);
}

/** Loads and checks a version; see {@link loadVersion}. */
export type VersionLoader = (name: string, version: string, files: VersionFiles) => Promise<ServedModel>;

/** What each manifest error says before its problems, so that a reason stands alone in the index. */
const prefixes: Readonly<Record<ManifestErrorCode, string>> = {
  'manifest-unreadable': 'manifest.json ',
  'manifest-invalid': 'invalid manifest.json: ',
  'model-unreadable': '',
  'model-checksum-mismatch': '',
  'model-unloadable': '',
  'model-mismatch': 'the model does not match its manifest: ',
};

/**
 * The loader of versions with `options`: resolves with the version ready to serve, or rejects
 * with a {@link VersionRefused} saying why, having released whatever it had created.
 */
export function versionLoader(options: VersionLoadOptions): VersionLoader {
  return async (name, version, files) => {
    const folder: VersionFolder = { dir: path.dirname(files.manifestPath), root: files.root };
    let manifest;
    let classifier;
    try {
      manifest = await readManifest(folder, files.manifestPath);
      const bytes = await readVersionFile(folder, manifest.file, 'model file', { maxBytes: options.maxModelBytes, timeoutMs: MODEL_READ_TIMEOUT_MS }, {
        code: 'model-unreadable',
        hint: '; run "make model"',
      });
      classifier = await createClassifier(manifest, bytes, options.limits, options.classifier);
    } catch (err) {
      if (!(err instanceof ManifestError)) throw err;
      const problems = err.problems.join('; ');
      const file = err.code === 'model-checksum-mismatch' && manifest ? `${path.basename(manifest.file)}: ` : '';
      throw new VersionRefused(err.code, `${prefixes[err.code]}${file}${problems}`, { cause: err });
    }
    try {
      try {
        await warmUp(classifier);
      } catch (err) {
        throw new VersionRefused('warm-up-failed', `the warm-up inference failed: ${(err as Error).message}`, { cause: err });
      }
      await checkGolden(classifier, manifest, (file, what) => readVersionFile(folder, file, what, GOLDEN_BOUNDS, { code: 'golden-unreadable' }));
    } catch (err) {
      await classifier.close();
      throw err;
    }
    return { name, version, manifest, classifier };
  };
}
