/**
 * Why a version of a model repository is not served: the refusal a version's checks raise,
 * with a stable code (the metrics' label) and a reason in words (the index, the log line).
 */
import type { ManifestErrorCode } from '../model/manifest.js';

/**
 * The manifest's own codes (unreadable, invalid, model file unreadable, SHA-256 mismatch,
 * graph that onnxruntime cannot load, graph that does not match the manifest), then the
 * repository's: a file the version names that may not be read (outside its folder, leading
 * outside the repository, not a regular file, too large, too slow: `version-files.ts`), a golden
 * example that cannot be classified or is answered otherwise, a warm-up
 * inference that fails, inference workers that keep crashing once it served, and anything
 * unexpected while loading (`load-error`).
 */
export type RefusalCode =
  | ManifestErrorCode
  | 'file-refused'
  | 'golden-unreadable'
  | 'golden-mismatch'
  | 'warm-up-failed'
  | 'engine-failed'
  | 'load-error';

/** A version that cannot serve; `message` is the reason, without file system paths. */
export class VersionRefused extends Error {
  readonly code: RefusalCode;
  constructor(code: RefusalCode, reason: string, options?: ErrorOptions) {
    super(reason, options);
    this.name = 'VersionRefused';
    this.code = code;
  }
}
