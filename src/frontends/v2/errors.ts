/**
 * The Open Inference Protocol's error shape: its clients (Triton's, KServe's) read the message
 * from `{"error": "<message>"}`, served as `application/json`. Under `/v2` every problem carries
 * `error` beside its RFC 9457 members; a client asking for `application/problem+json` gets that
 * media type, with the same body (`src/http/problem.ts`).
 */
import type { ProblemError } from '../../errors.js';
import type { ProblemDialect } from '../../http/problem.js';

/** Whether `path` (a path, or a request target with its query) is one of the protocol's: `/v2`, `/v2/...`. */
function isInferenceProtocolPath(path: string): boolean {
  return path === '/v2' || path.startsWith('/v2/') || path.startsWith('/v2?');
}

/** The protocol's dialect of problems. */
export const v2ProblemDialect: ProblemDialect = Object.freeze({
  speaks: isInferenceProtocolPath,
  mediaType: 'application/json',
  members: (err: ProblemError) => ({ error: err.detail ?? err.title }),
});
