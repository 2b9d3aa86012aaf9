/**
 * The captures' front-end: labelling the answers the service kept (`POST /feedback`) and
 * reading them (`GET /captures...`), for labellers, Label Studio and `make train`'s users. It
 * reads and writes through the capture store's interface (`src/capture/types.ts`); without a
 * store, or while it cannot be used, every operation answers 503 `capture-unavailable`.
 */
import type { CaptureStore } from '../../capture/types.js';
import type { OperationHandlers } from '../../http/operation.js';
import { getCapture, getCaptureImage, listCaptures, postFeedback } from './handlers.js';

/** The operations this front-end serves. */
export type CapturesOperations =
  | 'postFeedback'
  | 'listCaptures'
  | 'getCapture'
  | 'getCaptureImage'
  | 'getBatchCapture'
  | 'getBatchCaptureImage';

/** What the captures front-end is built from. */
export interface CapturesDeps {
  /** The store; `undefined`: capture is not configured (every operation answers 503). */
  readonly store: CaptureStore | undefined;
  /** The service's public URL, for Label Studio tasks (`CAPTURE_BASE_URL`); default each request's origin. */
  readonly baseUrl?: string | undefined;
}

/** The captures front-end's operation handlers. */
export function capturesHandlers(deps: CapturesDeps): Pick<OperationHandlers, CapturesOperations> {
  const capture = getCapture(deps.store);
  const image = getCaptureImage(deps.store);
  return {
    postFeedback: postFeedback(deps.store),
    listCaptures: listCaptures(deps.store, deps.baseUrl),
    getCapture: capture,
    getCaptureImage: image,
    getBatchCapture: capture,
    getBatchCaptureImage: image,
  };
}
