/**
 * What the rest of the service sees of the capture store (`src/capture/`): the settings it is
 * built from, and the reads and the feedback the captures front-end serves. The inference core
 * sees none of this: it hands answers to the {@link CaptureSink} it declares
 * (`src/inference/capture.ts`), which the composition wires to this store.
 */
import type { CaptureSource } from '../inference/capture.js';

/** The `CAPTURE_*` settings. */
export interface CaptureSettings {
  /** Share of the answers captured, 0 (off) to 1 (all). */
  readonly sampleRate: number;
  /** Folder of the database (`captures.db`) and the images (`images/`). */
  readonly dir: string;
  /** Most bytes the images and the database may take; beyond, the oldest captures go. */
  readonly maxBytes: number;
  /** Captures older than this go, in milliseconds. */
  readonly maxAgeMs: number;
  /** Most bytes of images waiting to be written; beyond, new captures are dropped (counted). */
  readonly queueBytes: number;
  /** The service's public URL, for the image URLs of Label Studio tasks; default the request's origin. */
  readonly baseUrl: string | undefined;
}

/** The latest label given to a capture. */
export interface CaptureFeedback {
  readonly label: string;
  /** When, in milliseconds since the epoch. */
  readonly at: number;
  readonly subject: string | undefined;
}

/** One captured answer, as the store gives it back. */
export interface CaptureView {
  readonly id: string;
  /** When it was answered, in milliseconds since the epoch. */
  readonly at: number;
  readonly source: CaptureSource;
  readonly model: string;
  readonly modelName: string;
  readonly version: string;
  readonly labels: readonly string[];
  readonly values: readonly number[];
  readonly prediction: string;
  readonly confidence: number;
  readonly margin: number;
  readonly entropy: number;
  readonly elapsedMs: number | undefined;
  readonly subject: string | undefined;
  readonly requestId: string | undefined;
  readonly image: { readonly sha256: string; readonly bytes: number; readonly mediaType: string | undefined };
  readonly feedback: CaptureFeedback | undefined;
}

/** The orders of `GET /captures`: the most useful to label first. */
export type CaptureOrder = 'least-confidence' | 'margin' | 'entropy' | 'newest';

/** What `GET /captures` asks. */
export interface CaptureQuery {
  readonly order: CaptureOrder;
  /** `true`: with feedback only; `false`: without; `undefined`: both. */
  readonly labelled: boolean | undefined;
  readonly model: string | undefined;
  readonly limit: number;
}

/** What a feedback did. */
export type FeedbackOutcome =
  | {
      readonly kind: 'recorded';
      readonly label: string;
      /** The answer labelled: its model, version and prediction (the evidence counts it right or wrong). */
      readonly model?: string;
      readonly version?: string;
      readonly prediction?: string;
      /** The label the capture had before this one, if any. */
      readonly previous?: string | undefined;
    }
  | { readonly kind: 'not-found' }
  | { readonly kind: 'unknown-label'; readonly model: string; readonly version: string; readonly labels: readonly string[] };

/** Whether the store can be used now, and why not. */
export type CaptureAvailability = { readonly available: true } | { readonly available: false; readonly reason: string };

/** The store, as the captures front-end uses it. Every method rejects with the reason when the store is unavailable. */
export interface CaptureStore {
  availability(): CaptureAvailability;
  get(id: string): Promise<CaptureView | undefined>;
  list(query: CaptureQuery): Promise<CaptureView[]>;
  /** The image file of capture `id`, and its media type. */
  image(id: string): Promise<{ readonly file: string; readonly view: CaptureView } | undefined>;
  /** Records `label` (any case) as the label capture `id` should have had; the latest wins. */
  feedback(id: string, label: string, subject: string | undefined): Promise<FeedbackOutcome>;
}
