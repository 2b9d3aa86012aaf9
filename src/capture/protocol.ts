/**
 * The messages between the service's thread and the capture writer's (`writer-thread.ts`): the
 * captures to write (their images transferred, not copied), the store's requests and their
 * replies, and what the writer tells of its state.
 */
import type { CaptureSource } from '../inference/capture.js';
import type { CaptureQuery, CaptureView, FeedbackOutcome } from './types.js';

/** What the writer thread starts with. */
export interface WriterInit {
  readonly dir: string;
  readonly maxBytes: number;
  readonly maxAgeMs: number;
  /** How long writing stops after a failure, and how often an unopened database is tried again, in milliseconds. */
  readonly retryMs: number;
}

/** One capture on its way to the writer. */
export interface WireCapture {
  readonly id: string;
  readonly at: number;
  readonly source: CaptureSource;
  readonly model: string;
  readonly modelName: string;
  readonly version: string;
  readonly labels: readonly string[];
  readonly values: readonly number[];
  readonly prediction: string;
  readonly elapsedMs: number | undefined;
  readonly subject: string | undefined;
  readonly requestId: string | undefined;
  /** The image, a copy of its own (its buffer is transferred). */
  readonly image: Uint8Array;
}

/** A request to the store, answered by a {@link Reply} with the same `seq`. */
export type StoreRequest =
  | { readonly op: 'get'; readonly id: string }
  | { readonly op: 'list'; readonly query: CaptureQuery }
  | { readonly op: 'feedback'; readonly id: string; readonly label: string; readonly subject: string | undefined; readonly at: number };

/** The value each request resolves to. */
export interface StoreValues {
  readonly get: CaptureView | undefined;
  readonly list: CaptureView[];
  readonly feedback: FeedbackOutcome;
}

/** The service's thread → the writer. */
export type ToWriter =
  | { readonly kind: 'capture'; readonly captures: readonly WireCapture[]; readonly bytes: number }
  | { readonly kind: 'request'; readonly seq: number; readonly request: StoreRequest }
  | { readonly kind: 'close' };

/** What the store holds, for the metrics. */
export interface StoreTotals {
  readonly captures: number;
  readonly images: number;
  /** The images' bytes and the database's pages in use. */
  readonly bytes: number;
}

/** The writer → the service's thread. */
export type FromWriter =
  | { readonly kind: 'opened'; readonly migrated: readonly number[]; readonly totals: StoreTotals; readonly sweptFiles: number }
  | { readonly kind: 'open-failed'; readonly reason: string; readonly retryInMs: number }
  /** A batch of captures is done with: `bytes` of the queue are free again. */
  | { readonly kind: 'written'; readonly bytes: number; readonly stored: number; readonly duplicates: number; readonly dropped: number; readonly totals: StoreTotals }
  /**
   * Writing stopped (`reason`: the disk is full, the folder read-only…; `again`: it had stopped
   * before, and the retry failed too), the writer is ready to try again (`retry`), or a write
   * succeeded after a stop.
   */
  | { readonly kind: 'writing'; readonly writing: false; readonly reason: string; readonly again: boolean; readonly retryInMs: number }
  | { readonly kind: 'writing'; readonly writing: true; readonly retry: boolean }
  | { readonly kind: 'pruned'; readonly captures: number; readonly images: number; readonly totals: StoreTotals }
  | { readonly kind: 'totals'; readonly totals: StoreTotals }
  | { readonly kind: 'reply'; readonly seq: number; readonly ok: true; readonly value: unknown }
  | { readonly kind: 'reply'; readonly seq: number; readonly ok: false; readonly reason: string }
  | { readonly kind: 'closed' };
