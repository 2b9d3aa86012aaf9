/**
 * The core's port to the capture store (`src/capture/`, wired by `src/app.ts`): what the core
 * tells it of an answer.
 */

/** The operation an answer was given by. */
export type CaptureSource = 'upload' | 'explain' | 'v2' | 'grpc';
