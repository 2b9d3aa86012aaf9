/**
 * The inference core: what every protocol front-end calls, and the one place where a request's
 * work is sequenced. For each call it
 *
 * 1. leases the model version the call names (or the one the repository chooses), for as long as
 *    the work runs: a hot swap lets the call finish on the version it started on;
 * 2. inspects each image's header, refusing what can be refused without decoding;
 * 3. passes the admission gate (`admission.ts`), whose lanes and memory budget the header chose;
 * 4. classifies (or explains), stopping queued work when the caller's signal aborts;
 * 5. observes the timings per version (the metrics);
 * 6. answers under an inference id (the caller's, or one it makes), and hands a sample of the
 *    answers, with their images, to the capture sink (`capture.ts`), unless the call opts out.
 *
 * Front-ends decode their protocol's request into these calls and encode the answers; they never
 * lease, admit or observe themselves.
 *
 * ```ts
 * const core = createInferenceCore({ repository, admission, explain, observer: metrics });
 * const { result, model } = await core.classify({ name: 'catdog' }, image, { signal });
 * ```
 */
import type { ClassificationTimings } from '../model/classifier.js';
import { gridFor } from '../model/explain/occlusion.js';
import type { Explanation } from '../model/explain/explain.js';
import { overlayPng } from '../model/explain/overlay.js';
import type { Classification } from '../model/postprocess.js';
import type { Manifest } from '../model/manifest.js';
import type { ModelRepository, ServedModel } from '../repository/types.js';
import { createAdmission, type Admission, type AdmissionOptions } from './admission.js';
import { captureAddress, INFERENCE_ID, newInferenceId, type CallOrigin, type CaptureSink } from './capture.js';
import { admitAndClassify, classifyBatch, type Batch } from './classify-batch.js';

/** Which model a call runs on: a name (default: the repository's default model) and a version (default: the one it chooses). */
export interface ModelRef {
  readonly name?: string | undefined;
  readonly version?: string | undefined;
}

/** The version that answered a call. */
export interface Answerer {
  /** The model's name in the repository, e.g. `catdog`. */
  readonly name: string;
  /** Its version, e.g. `1`. */
  readonly version: string;
  /** The manifest's name of the model (`catdog-mobilenetv2-head`): the course answer's `model`. */
  readonly modelName: string;
}

/** What every call takes besides its input. */
export interface CallOptions {
  /** Aborts when the caller has gone: work still waiting leaves the queues, an explanation stops. */
  readonly signal?: AbortSignal;
  /** Told the version once it is leased, before any work (for the request log). */
  readonly onModel?: (model: Answerer) => void;
  /** Where the call comes from; a call says so to be captured (the capture records it). */
  readonly origin?: CallOrigin;
  /** `false`: never capture this call (the request opted out). */
  readonly capture?: boolean;
  /** The call's inference id, when the caller has one ({@link INFERENCE_ID}); otherwise the core makes one. */
  readonly id?: string | undefined;
}

/** A classification and who answered it. */
export interface Classified {
  /** The inference id the answer is given under: its capture's address. */
  readonly id: string;
  readonly result: Classification;
  readonly model: Answerer;
  /** The classification itself (decoding and inference), without the wait for admission, in milliseconds. */
  readonly elapsedMs: number;
}

/** The results of a batch, in order, and the plan they answer. */
export interface BatchClassified<P> {
  /**
   * The inference id: the plan's own `id` when it can address captures ({@link INFERENCE_ID}),
   * else the call's, else one the core made. Image `i`'s capture is `captureAddress(id, i, n)`.
   */
  readonly id: string;
  readonly plan: P;
  readonly results: readonly Classification[];
  readonly model: Answerer;
}

/** An explanation and who answered it. */
export interface Explained {
  /** The inference id the answer is given under: its capture's address. */
  readonly id: string;
  readonly result: Explanation;
  /** The photo with the heatmap over it, when asked for ({@link ExplainCallOptions.picture}). */
  readonly picture: Buffer | undefined;
  readonly model: Answerer;
  /** The explanation (and the picture), without the wait for admission, in milliseconds. */
  readonly elapsedMs: number;
}

/** Options of an explanation. */
export interface ExplainCallOptions extends CallOptions {
  /** Also draw the heatmap over the photo, as a PNG at most `maxSide` pixels a side. */
  readonly picture?: { readonly maxSide: number };
}

/** The bounds of explanations (`EXPLAIN_*`). */
export interface ExplainSettings {
  /** Forward passes one explanation may take; its grid follows ({@link gridFor}). */
  readonly maxPasses: number;
  /** Explanations running at once and waiting, apart from the classifications' gate. */
  readonly admission: AdmissionOptions;
}

/** What a version looks like to a front-end planning a request for it. */
export interface ModelDescription {
  readonly name: string;
  readonly version: string;
  readonly manifest: Manifest;
  /** The model's READY versions, newest first. */
  readonly readyVersions: readonly string[];
}

/** Receives what the core measures (the metrics implement it). */
export interface InferenceObserver {
  /** One image classified by `model`. */
  observeClassification(timings: ClassificationTimings, model: { readonly name: string; readonly version: string }): void;
  /** One batch request of `images` images (or rows), once planned. */
  observeInferenceBatch(images: number): void;
}

/** What the core is built from. */
export interface InferenceCoreDeps {
  readonly repository: ModelRepository;
  /** The classifications' gate: lanes, queue bounds and decode memory budget. */
  readonly admission: AdmissionOptions;
  readonly explain: ExplainSettings;
  readonly observer?: InferenceObserver;
  /** Where a sample of the answers goes (`src/capture/`); default nowhere. */
  readonly capture?: CaptureSink;
}

/** See the module comment. */
export interface InferenceCore {
  /** The model a call naming none runs on. */
  readonly defaultModel: string;
  /** The classifications' gate, for the metrics (in flight, queued, decode memory). */
  readonly admission: Admission;
  /**
   * Classifies one encoded image.
   *
   * @throws model-not-found / model-unavailable (the lease), image-* (the header, the decode),
   *   overloaded (the gate), or the signal's reason.
   */
  classify(ref: ModelRef, image: Uint8Array, options?: CallOptions): Promise<Classified>;
  /**
   * Plans a batch against the leased version (`plan` decodes the front-end's request with the
   * version's manifest in hand: its input, its labels) and classifies its images or rows, in order.
   * Every image's header is read before any is decoded; the first failure stops the rest.
   */
  classifyBatch<P extends { readonly batch: Batch; readonly id?: string | undefined }>(
    ref: ModelRef,
    plan: (model: ModelDescription) => P,
    options?: CallOptions,
  ): Promise<BatchClassified<P>>;
  /** Classifies one encoded image and explains the answer by occlusion, at low priority. */
  explain(ref: ModelRef, image: Uint8Array, options?: ExplainCallOptions): Promise<Explained>;
  /**
   * The version a call naming `ref` would run on now.
   *
   * @throws model-not-found / model-unavailable, as a call would.
   */
  describe(ref: ModelRef): ModelDescription;
}

const answererOf = (model: ServedModel): Answerer =>
  ({ name: model.name, version: model.version, modelName: model.classifier.name });

/** The first of `ids` that can address captures, or a new one. */
const inferenceId = (...ids: (string | undefined)[]): string => ids.find((id) => id !== undefined && INFERENCE_ID.test(id)) ?? newInferenceId();

/** One image's answer, as the capture takes it. */
interface Answered {
  readonly image: Uint8Array;
  readonly result: Classification & { readonly timings?: ClassificationTimings | undefined };
  readonly elapsedMs?: number | undefined;
}

/** Builds the core; the repository is loaded (and closed) by its owner. */
export function createInferenceCore(deps: InferenceCoreDeps): InferenceCore {
  const { repository, observer } = deps;
  const sink = deps.capture;
  const admission = createAdmission(deps.admission);
  // About 50 forward passes each: explanations have a gate of their own and hold none of the
  // classifications' slots, but for the length of their decodes (the decode memory budget).
  const explainGate = createAdmission(deps.explain.admission);
  const grid = gridFor(deps.explain.maxPasses);

  const describe = (model: ServedModel): ModelDescription => ({
    name: model.name,
    version: model.version,
    manifest: model.manifest,
    readyVersions: repository.readyVersions(model.name),
  });

  /**
   * Hands the answers of a call under `id` to the capture sink, when the call says where it comes
   * from, does not opt out, and is drawn. Never throws: an answer never fails for its capture.
   */
  const capture = (options: CallOptions, model: ServedModel, id: string, answered: readonly Answered[]): void => {
    if (!sink || !options.origin || options.capture === false || answered.length === 0) return;
    try {
      if (!sink.sample()) return;
      const at = Date.now();
      const { origin } = options;
      sink.offer(answered.map(({ image, result, elapsedMs }, index) => ({
        id: captureAddress(id, index, answered.length),
        at,
        origin,
        model: model.name,
        modelName: model.classifier.name,
        version: model.version,
        labels: result.labels,
        values: result.values,
        prediction: result.prediction,
        elapsedMs: elapsedMs ?? (result.timings ? result.timings.preprocessMs + result.timings.inferenceMs : undefined),
        image,
      })));
    } catch {
      // The sink counts what it drops; nothing of it reaches the answer.
    }
  };

  /** Leases the version `ref` names for as long as `use` runs. */
  async function leased<T>(ref: ModelRef, options: CallOptions, use: (model: ServedModel) => Promise<T>): Promise<T> {
    const lease = repository.acquire(ref.name ?? repository.defaultModel, ref.version);
    try {
      options.onModel?.(answererOf(lease.model));
      return await use(lease.model);
    } finally {
      lease.release();
    }
  }

  return {
    defaultModel: repository.defaultModel,
    admission,

    classify(ref, image, options = {}) {
      return leased(ref, options, async (model) => {
        const { classifier } = model;
        const header = await classifier.inspect(image);
        const { result, elapsedMs } = await admitAndClassify(image, header, {
          classifier,
          admission,
          signal: options.signal,
          observe: (timings) => observer?.observeClassification(timings, model),
        });
        const id = inferenceId(options.id);
        capture(options, model, id, [{ image, result, elapsedMs }]);
        return { id, result, model: answererOf(model), elapsedMs };
      });
    },

    classifyBatch(ref, plan, options = {}) {
      return leased(ref, options, async (model) => {
        const planned = plan(describe(model));
        const { batch } = planned;
        observer?.observeInferenceBatch(batch.kind === 'images' ? batch.images.length : batch.rows.length);
        const results = await classifyBatch(batch, {
          classifier: model.classifier,
          admission,
          signal: options.signal ?? new AbortController().signal,
          observe: (timings) => observer?.observeClassification(timings, model),
        });
        const id = inferenceId(planned.id, options.id);
        if (batch.kind === 'images') capture(options, model, id, results.map((result, i) => ({ image: batch.images[i]!, result })));
        return { id, plan: planned, results, model: answererOf(model) };
      });
    },

    explain(ref, image, options = {}) {
      return leased(ref, options, async (model) => {
        const { classifier } = model;
        const signal = options.signal;
        // What can be refused from the header (not an image, too many pixels, a decode bomb) is, at once.
        const header = await classifier.inspect(image);
        const decoding = <T>(decode: () => Promise<T>): Promise<T> =>
          admission.run(decode, { costBytes: header.decodeBytes, ...(signal ? { signal } : {}) });
        let started = 0;
        const { result, picture } = await explainGate.run(async () => {
          started = performance.now();
          const result = await classifier.explain(image, { grid, header, decoding, ...(signal ? { signal } : {}) });
          const picture = options.picture
            ? await decoding(() => overlayPng(image, result.heatmap, result.region, { maxSide: options.picture!.maxSide }))
            : undefined;
          return { result, picture };
        }, signal ? { signal } : {});
        const elapsedMs = performance.now() - started;
        const id = inferenceId(options.id);
        capture(options, model, id, [{ image, result, elapsedMs }]);
        return { id, result, picture, model: answererOf(model), elapsedMs };
      });
    },

    describe(ref) {
      const lease = repository.acquire(ref.name ?? repository.defaultModel, ref.version);
      try {
        return describe(lease.model);
      } finally {
        lease.release();
      }
    },
  };
}
