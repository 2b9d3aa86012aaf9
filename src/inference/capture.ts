/**
 * The core's port to the capture store: a sample of the answers, with their images, handed over
 * to whoever the composition wires here (`src/capture/`, in `src/app.ts`). The core never waits
 * for it nor fails because of it: {@link CaptureSink.offer} takes the records and returns.
 *
 * Inference ids: a call answers under an id, the caller's own (a V2 request's `id`) or one the
 * core makes. An image's capture is addressed by {@link captureAddress}: the id for a call of
 * one image, `<id>/<index>` for image `index` of a call of several.
 */
import { randomUUID } from 'node:crypto';

/** The operation an answer was given by. */
export type CaptureSource = 'upload' | 'explain' | 'v2' | 'grpc' | 'label-studio';

/** Where a call comes from: what a capture records besides the answer. */
export interface CallOrigin {
  readonly source: CaptureSource;
  /** The `sub` of the caller's access token, when it had one. */
  readonly subject?: string | undefined;
  /** The request's id in the log (`X-Request-Id`), when it came over HTTP. */
  readonly requestId?: string | undefined;
}

/** One answer to capture: the image and the classification it got. */
export interface CaptureRecord {
  /** Its address ({@link captureAddress}). */
  readonly id: string;
  /** When it was answered, in milliseconds since the epoch. */
  readonly at: number;
  readonly origin: CallOrigin;
  /** The model of the repository (`catdog`), its manifest's name and the version that answered. */
  readonly model: string;
  readonly modelName: string;
  readonly version: string;
  readonly labels: readonly string[];
  readonly values: readonly number[];
  readonly prediction: string;
  /** Decoding and inference, in milliseconds, when measured for this image alone. */
  readonly elapsedMs: number | undefined;
  /** The encoded image as received (a view: the sink copies what it keeps). */
  readonly image: Uint8Array;
}

/** Where captured answers go. */
export interface CaptureSink {
  /** Whether to capture the call that just succeeded (draws the sample; `false` when off). */
  sample(): boolean;
  /** Takes the records of one call; never throws, never waits (it drops, and counts, what it cannot keep). */
  offer(records: readonly CaptureRecord[]): void;
}

/** What an inference id may be to address captures: 1 to 128 of letters, digits, `_`, `.`, `:`, `-`. */
export const INFERENCE_ID = /^[A-Za-z0-9_.:-]{1,128}$/;

/** A new inference id. */
export const newInferenceId = (): string => randomUUID();

/** The address of the capture of image `index` of a call of `count` images answered under `id`. */
export function captureAddress(id: string, index: number, count: number): string {
  return count === 1 ? id : `${id}/${index}`;
}
