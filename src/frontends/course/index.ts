/**
 * The course's front-end: the FastAPI service's contract (`GET /health`, `POST /upload`), the
 * explanations of `POST /explain`, and what the web page reads (`GET /ui/config`).
 */
import type { RequestAdmission } from '../../http/api.js';
import { whileConnected } from '../../http/client-gone.js';
import type { OperationHandlers } from '../../http/operation.js';
import type { InferenceCore } from '../../inference/core.js';
import type { PayloadSink } from '../../inference/payload.js';
import { classifyImage } from './classify-image.js';
import { explainImage } from './explain-image.js';
import { getHealth } from './health.js';
import { getUiConfig, type UiConfig } from './ui-config.js';

/** The operations this front-end serves. */
export type CourseOperations = 'getHealth' | 'classifyImage' | 'explainImage' | 'getUiConfig';

/** What the course front-end is built from. */
export interface CourseDeps {
  readonly core: InferenceCore;
  /** What `GET /ui/config` tells the page. */
  readonly uiConfig: UiConfig;
  /** Where every upload's request and answer go (`PAYLOAD_LOGGER_URL`); default nowhere. */
  readonly payloads?: PayloadSink | undefined;
}

/**
 * The course front-end's early refusals, before an upload is read: a client over its rate limit,
 * an upload or an explanation that its gate would refuse now (`InferenceCore.admitRequest`).
 */
export function courseAdmissions(core: InferenceCore): Readonly<Partial<Record<CourseOperations, RequestAdmission>>> {
  return {
    classifyImage: (ctx) => whileConnected(ctx, (signal) => core.admitRequest(ctx.state.client, 'classify', { signal })),
    explainImage: (ctx) => whileConnected(ctx, (signal) => core.admitRequest(ctx.state.client, 'explain', { signal })),
  };
}

/** The course front-end's operation handlers. */
export function courseHandlers(deps: CourseDeps): Pick<OperationHandlers, CourseOperations> {
  return {
    getHealth: getHealth(),
    classifyImage: classifyImage(deps.core, deps.payloads),
    explainImage: explainImage(deps.core),
    getUiConfig: getUiConfig(deps.uiConfig),
  };
}
