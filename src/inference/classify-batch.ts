/**
 * The images of one inference request through the same path as an upload's image: header
 * checks, the admission gate (its lanes and decode memory budget), decoding, the micro-batcher.
 *
 * Every image's header is read first, so that a request with one bad image is refused before any
 * is decoded. Then all of them are submitted at once (so that they share forward passes with each
 * other and with uploads) and the results come back in request order. The first failure stops
 * the rest: images still waiting for a slot leave the queue, and the answer is that failure,
 * with the image's index in its detail. A client that hangs up does the same.
 */
import { setMaxListeners } from 'node:events';
import { ProblemError } from '../errors.js';
import type { Admission } from './admission.js';
import type { Classifier, ClassificationTimings, ImageHeader } from '../model/classifier.js';
import type { Classification } from '../model/postprocess.js';
import { modelAttributes, recordSpan, tracingOn } from '../tracing/tracer.js';

/** The images of a batch: encoded, or already as rows of the model's input. */
export type Batch =
  | { readonly kind: 'images'; readonly images: readonly Uint8Array[] }
  | { readonly kind: 'tensors'; readonly rows: readonly Float32Array[] };

/** What running a batch needs besides the batch. */
export interface BatchContext {
  readonly classifier: Classifier;
  readonly admission: Admission;
  /** Aborts when the client has gone: waiting images leave the queue. */
  readonly signal: AbortSignal;
  /** Whose images these are: the gate takes each client's images in turn. */
  readonly client?: string | undefined;
  /** Receives the timings of each image classified (the metrics). */
  readonly observe?: (timings: ClassificationTimings) => void;
  /** The version classifying, named on the stages' spans when tracing is on. */
  readonly model?: { readonly name: string; readonly version: string } | undefined;
}

/**
 * Records an image's stages as spans (when tracing is on): the wait for the gate, then the
 * classifier's decode and inference, from its timings, with the version's attributes.
 */
function traceStages(queuedAt: number, startedAt: number, endedAt: number, timings: ClassificationTimings | undefined, model: BatchContext['model']): void {
  if (!tracingOn()) return;
  const attributes = model ? modelAttributes(model) : {};
  recordSpan('queue wait', queuedAt, startedAt, attributes);
  if (!timings) {
    recordSpan('inference', startedAt, endedAt, attributes);
    return;
  }
  const decoded = startedAt + timings.preprocessMs;
  recordSpan('decode', startedAt, decoded, attributes);
  recordSpan('inference', decoded, Math.min(endedAt, decoded + timings.inferenceMs), attributes);
}

/** A problem of image `index`, said so in its detail; other errors are returned as they are. */
function ofImage(err: unknown, index: number): unknown {
  if (!(err instanceof ProblemError) || !err.code.startsWith('image-')) return err;
  return new ProblemError(err.code, {
    detail: `Image ${index}: ${err.detail ?? err.title}`,
    headers: err.headers,
    extensions: err.extensions,
    cause: err,
  });
}

/** Runs `tasks` at once; resolves with their results in order, or rejects with the first failure after stopping the others. */
async function allOrFirstFailure<T>(signal: AbortSignal, tasks: readonly ((signal: AbortSignal) => Promise<T>)[]): Promise<T[]> {
  const stop = new AbortController();
  // One listener per image waiting at the gate: up to MAX_BATCH_IMAGES, not a leak.
  setMaxListeners(tasks.length + 1, stop.signal);
  const onGone = (): void => stop.abort(signal.reason);
  if (signal.aborted) onGone();
  signal.addEventListener('abort', onGone, { once: true });
  try {
    const settled = await Promise.allSettled(
      tasks.map((task, i) =>
        task(stop.signal).catch((err: unknown) => {
          const failure = ofImage(err, i);
          if (!stop.signal.aborted) stop.abort(failure);
          throw failure;
        }),
      ),
    );
    if (stop.signal.aborted) throw stop.signal.reason;
    return settled.map((s) => (s as PromiseFulfilledResult<T>).value);
  } finally {
    signal.removeEventListener('abort', onGone);
  }
}

/** A classification of one image and how long it took, without the wait for admission. */
export interface TimedClassification {
  readonly result: Classification;
  /** Decoding and inference, in milliseconds. */
  readonly elapsedMs: number;
}

/**
 * Classifies one image whose header was read: waits for the gate (the header's estimate chooses
 * the lane and counts against the decode memory budget), classifies, and passes the timings to
 * `observe`.
 */
export async function admitAndClassify(
  image: Uint8Array,
  header: ImageHeader,
  context: Omit<BatchContext, 'signal'> & { readonly signal?: AbortSignal | undefined },
): Promise<TimedClassification> {
  const { classifier, admission, signal, client, observe } = context;
  const queuedAt = performance.now();
  let started = 0;
  const result = await admission.run(() => {
    started = performance.now();
    return classifier.classify(image, header, client);
  }, { costBytes: header.decodeBytes, ...(signal ? { signal } : {}), ...(client === undefined ? {} : { client }) });
  const ended = performance.now();
  const elapsedMs = ended - started;
  if (result.timings) observe?.(result.timings);
  traceStages(queuedAt, started, ended, result.timings, context.model);
  return { result, elapsedMs };
}

/** Classifies the batch's images (or rows), in order. */
export async function classifyBatch(batch: Batch, context: BatchContext): Promise<Classification[]> {
  const { classifier, admission, signal, client } = context;
  if (batch.kind === 'tensors') {
    return allOrFirstFailure(signal, batch.rows.map((row) => async (stop) => {
      const queuedAt = performance.now();
      let started = 0;
      const result = await admission.run(() => {
        started = performance.now();
        return classifier.classifyTensor(row, client);
      }, { signal: stop, ...(client === undefined ? {} : { client }) });
      traceStages(queuedAt, started, performance.now(), undefined, context.model);
      return result;
    }));
  }
  const inspected = await Promise.allSettled(batch.images.map((image) => classifier.inspect(image, client)));
  const refused = inspected.findIndex((r) => r.status === 'rejected');
  if (refused >= 0) throw ofImage((inspected[refused] as PromiseRejectedResult).reason, refused);
  const headers = inspected.map((r) => (r as PromiseFulfilledResult<ImageHeader>).value);
  return allOrFirstFailure(
    signal,
    batch.images.map((image, i) => async (stop) => (await admitAndClassify(image, headers[i]!, { ...context, signal: stop })).result),
  );
}
