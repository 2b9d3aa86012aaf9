/**
 * The inference core: what every protocol front-end calls, and the one place where a request's
 * work is sequenced. For each call it
 *
 * 1. leases the model version the call names (or the one the repository chooses, or its canary
 *    for the client's share of the traffic: `traffic.ts`), for as long as the work runs: a hot
 *    swap lets the call finish on the version it started on;
 * 2. inspects each image's header, refusing what can be refused without decoding;
 * 3. passes the admission gate (`admission.ts`), whose lanes and memory budget the header chose,
 *    in its client's turn (`fair-queue.ts`);
 * 4. classifies (or explains), stopping queued work when the caller's signal aborts;
 * 5. observes the timings per version (the metrics);
 * 6. answers under an inference id (the caller's, or one it makes), and hands a sample of the
 *    answers, with their images, to the capture sink (`capture.ts`), unless the call opts out;
 * 7. offers a sample of the images to the model's shadow candidate, if any, which classifies
 *    them after the answer with spare capacity only, for the comparison (`traffic.ts`).
 *
 * Front-ends decode their protocol's request into these calls and encode the answers; they never
 * lease, admit or observe themselves. Before they read a request's body they ask
 * {@link InferenceCore.admitRequest}, which refuses at once a client over its rate limit
 * (`rate-limit.ts`) and work the gates would refuse anyway; each call then names its client
 * (`CallOptions.client`: a token's subject, or an address), whom the gates serve in turn.
 *
 * ```ts
 * const core = createInferenceCore({ repository, admission, explain, rateLimit, observer: metrics });
 * core.admitRequest('token:alice', 'classify');   // before the body is read
 * const { result, model } = await core.classify({ name: 'catdog' }, image, { signal, client: 'token:alice' });
 * ```
 */
import type { ClassificationTimings } from '../model/classifier.js';
import { setTimeout as delay } from 'node:timers/promises';
import { Overloaded, ProblemError } from '../errors.js';
import { gridFor, passesOf } from '../model/explain/occlusion.js';
import type { Explanation } from '../model/explain/explain.js';
import { overlayPng } from '../model/explain/overlay.js';
import type { Classification } from '../model/postprocess.js';
import type { Manifest } from '../model/manifest.js';
import type { ModelRepository, ServedModel } from '../repository/types.js';
import { ANONYMOUS, createAdmission, type Admission, type AdmissionOptions } from './admission.js';
import { captureAddress, INFERENCE_ID, newInferenceId, type CallOrigin, type CaptureSink } from './capture.js';
import { admitAndClassify, classifyBatch, type Batch } from './classify-batch.js';
import type { EvidenceModel } from './evidence.js';
import { createRateLimiter, type RateLimitOptions } from './rate-limit.js';
import { createShadowRunner, inCanary, type ShadowComparison, type ShadowSettings, type ShadowSkip } from './traffic.js';

/**
 * Longest time a request that comes back before its client's `Retry-After` waits for it, unread,
 * in milliseconds: a few seconds, well within the body's grace period (`BODY_RATE_GRACE_MS`).
 * Longer ones (a rate limit's debt) are refused at once again.
 */
const MAX_RETRY_WAIT_MS = 3_000;

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
  /**
   * Who the call is for (a token's subject, or an address, as the front-end tells them apart): the
   * gates take each client's images in turn, and a batch's images count against its rate limit.
   * Default: one anonymous client shared by every call that names none.
   */
  readonly client?: string;
  /** Where the call comes from; a call says so to be captured (the capture records it). */
  readonly origin?: CallOrigin;
  /** `false`: never capture this call (the request opted out). */
  readonly capture?: boolean;
  /** The call's inference id, when the caller has one ({@link INFERENCE_ID}); otherwise the core makes one. */
  readonly id?: string | undefined;
}

/** What a request asks of the core, as its front-end knows it before reading the body. */
export type RequestKind = 'classify' | 'batch' | 'explain';

/** Options of {@link InferenceCore.admitRequest}. */
export interface AdmitOptions {
  /**
   * The most images the request may hold (a batch: `MAX_BATCH_IMAGES`; default 1): it is let in
   * if the classifications' gate has room for that many, or if its client holds fewer waiting
   * images than another and so may take their places. A client filling the queue has its next
   * batch refused before the body is read rather than after.
   */
  readonly images?: number;
  /** Aborts while the request waits for its client's Retry-After. */
  readonly signal?: AbortSignal;
}

/** A classification and who answered it. */
export interface Classified {
  /** The inference id the answer is given under: its capture's address. */
  readonly id: string;
  readonly result: Classification;
  readonly model: Answerer;
  /** The classification itself (decoding and inference), without the wait for admission, in milliseconds. */
  readonly elapsedMs: number;
  /**
   * Whether the image's bytes are still in use after the answer (a shadow candidate classifies
   * them later): the caller must then not release them (`src/release-bytes.ts`). The
   * capture copies what it keeps.
   */
  readonly imageHeld: boolean;
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
  /** Whether the images' bytes are still in use after the answer (as {@link Classified.imageHeld}). */
  readonly imagesHeld: boolean;
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
  /** One answer of `model`, as given (the evidence per version, `evidence.ts`); explanations are not counted. */
  observeAnswer?(model: EvidenceModel, result: Classification): void;
  /** One image classified by a shadow candidate beside the version that answered it (`traffic.ts`). */
  observeShadow?(c: ShadowComparison): void;
  /** One image drawn for the shadow that it did not classify: no spare capacity (`busy`), or it `failed`. */
  observeShadowSkipped?(c: { readonly name: string; readonly candidateVersion: string; readonly reason: ShadowSkip }): void;
}

/** What the core is built from. */
export interface InferenceCoreDeps {
  readonly repository: ModelRepository;
  /** The classifications' gate: lanes, queue bounds and decode memory budget. */
  readonly admission: AdmissionOptions;
  readonly explain: ExplainSettings;
  /** Each client's rate limit; default none. */
  readonly rateLimit?: RateLimitOptions;
  readonly observer?: InferenceObserver;
  /** Where a sample of the answers goes (`src/capture/`); default nowhere. */
  readonly capture?: CaptureSink;
  /** Shadow traffic (`SHADOW_SAMPLE_RATE`); default every image, with spare capacity. */
  readonly shadow?: ShadowSettings;
}

/** See the module comment. */
export interface InferenceCore {
  /** The model a call naming none runs on. */
  readonly defaultModel: string;
  /** The classifications' gate, for the metrics (in flight, queued, decode memory). */
  readonly admission: Admission;
  /**
   * Lets a request of `client` in, or refuses it, before its body is read: when the client is
   * over its rate limit (`rate-limited`, 429), or when the gate its work would wait at would
   * refuse it now (`overloaded`, 503: the explanations' gate, or the classifications' for an
   * upload or a batch). A request let in takes one image from its client's rate limit (an
   * explanation its forward passes, a request refused for capacity one);
   * {@link InferenceCore.classifyBatch} takes a batch's other images once it knows them.
   *
   * The refusal is at once, but for a client that comes back before the `Retry-After` it was
   * given (here, or by a gate): its request waits until then (up to {@link MAX_RETRY_WAIT_MS}),
   * unread, and is decided anew. So a client that ignores `Retry-After` gets no more decisions
   * than one that honours it, and its refusals cost no more either.
   *
   * @throws RateLimited, Overloaded; the signal's reason when it aborts while waiting.
   */
  admitRequest(client: string | undefined, kind: RequestKind, options?: AdmitOptions): Promise<void>;
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

/** Where a call offers the images its serving version answered, for the shadow candidate; whether it kept any. */
type Shadow = (answered: readonly { readonly image: Uint8Array; readonly result: Classification }[]) => boolean;

/** Builds the core; the repository is loaded (and closed) by its owner. */
export function createInferenceCore(deps: InferenceCoreDeps): InferenceCore {
  const { repository, observer } = deps;
  const sink = deps.capture;
  const admission = createAdmission(deps.admission);
  // About 50 forward passes each: explanations have a gate of their own and hold none of the
  // classifications' slots, but for the length of their decodes (the decode memory budget).
  const explainGate = createAdmission(deps.explain.admission);
  const grid = gridFor(deps.explain.maxPasses);
  const limits = createRateLimiter(deps.rateLimit ?? { imagesPerSecond: 0, burstImages: 0 });
  const shadows = createShadowRunner({
    repository,
    admission,
    maxInflight: deps.admission.maxInflight,
    settings: deps.shadow ?? { sampleRate: 1 },
    compared: (c) => observer?.observeShadow?.(c),
    skipped: (c) => observer?.observeShadowSkipped?.(c),
  });
  /** When each client refused lately may come back (its Retry-After), in `performance.now()` milliseconds. */
  const comeBackAt = new Map<string, number>();
  /** Notes when `client` may come back if `err` is a refusal for want of capacity or rate. */
  const remember = (client: string, err: unknown): void => {
    if (!(err instanceof ProblemError) || (err.code !== 'overloaded' && err.code !== 'rate-limited')) return;
    const now = performance.now();
    comeBackAt.set(client, now + Number(err.headers['Retry-After']) * 1000);
    if (comeBackAt.size > 1_000) for (const [key, at] of comeBackAt) if (at <= now) comeBackAt.delete(key);
  };

  /** {@link InferenceCore.admitRequest}'s decision, at once. */
  const decide = (client: string, kind: RequestKind, images: number): void => {
    const [gate, { retryAfterSeconds }] = kind === 'explain' ? [explainGate, deps.explain.admission] : [admission, deps.admission];
    // A request refused for want of capacity costs one image: a client that keeps asking
    // spends its rate limit on the refusals too (and is then answered 429).
    if (!gate.accepts(client, images)) {
      limits.admit(client, 1);
      throw new Overloaded(retryAfterSeconds);
    }
    limits.admit(client, kind === 'explain' ? passesOf(grid) : 1);
  };

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

  /**
   * Leases the version `ref` names for as long as `use` runs: with no version, the serving one or
   * (for the client's share) the canary. `use` gets where to offer its answers for the shadow
   * (nowhere unless the model has one and the serving version answers).
   */
  async function leased<T>(ref: ModelRef, options: CallOptions, use: (model: ServedModel, shadow: Shadow) => Promise<T>): Promise<T> {
    const name = ref.name ?? repository.defaultModel;
    const routes = ref.version === undefined ? repository.routes?.(name) : undefined;
    const canary = routes?.canary && inCanary(name, options.client, routes.canary.percent) ? routes.canary.version : undefined;
    let lease;
    try {
      lease = repository.acquire(name, canary ?? ref.version);
    } catch (err) {
      // The canary dropped out since the routes were read: the serving version answers.
      if (canary === undefined) throw err;
      lease = repository.acquire(name);
    }
    const candidate = routes?.shadow?.version;
    const shadow: Shadow = candidate !== undefined && lease.model.version === routes?.serving
      ? (answered) => shadows.offer(lease.model, candidate, answered)
      : () => false;
    try {
      options.onModel?.(answererOf(lease.model));
      return await use(lease.model, shadow);
    } catch (err) {
      // A refusal by a gate after the body was read (a batch that cannot wait whole, a place
      // taken by another client) counts as one before it: the client's Retry-After is kept.
      remember(options.client ?? ANONYMOUS, err);
      throw err;
    } finally {
      lease.release();
    }
  }

  return {
    defaultModel: repository.defaultModel,
    admission,

    async admitRequest(client = ANONYMOUS, kind, options = {}) {
      const { signal, images = 1 } = options;
      const wait = (comeBackAt.get(client) ?? 0) - performance.now();
      // As a queued task whose client went away: rejected with the signal's reason.
      if (wait > 0 && wait <= MAX_RETRY_WAIT_MS) await delay(wait, undefined, signal ? { signal } : {}).catch(() => Promise.reject(signal?.reason as Error));
      try {
        decide(client, kind, images);
        comeBackAt.delete(client);
      } catch (err) {
        remember(client, err);
        throw err;
      }
    },

    classify(ref, image, options = {}) {
      return leased(ref, options, async (model, shadow) => {
        const { classifier } = model;
        const header = await classifier.inspect(image, options.client);
        const { result, elapsedMs } = await admitAndClassify(image, header, {
          classifier,
          admission,
          signal: options.signal,
          client: options.client,
          observe: (timings) => observer?.observeClassification(timings, model),
          model,
        });
        const id = inferenceId(options.id);
        observer?.observeAnswer?.(model, result);
        capture(options, model, id, [{ image, result, elapsedMs }]);
        const imageHeld = shadow([{ image, result }]);
        return { id, result, model: answererOf(model), elapsedMs, imageHeld };
      });
    },

    classifyBatch(ref, plan, options = {}) {
      return leased(ref, options, async (model, shadow) => {
        const planned = plan(describe(model));
        const { batch } = planned;
        const images = batch.kind === 'images' ? batch.images.length : batch.rows.length;
        observer?.observeInferenceBatch(images);
        // admitRequest took the first image.
        if (options.client !== undefined) limits.charge(options.client, images - 1);
        // A batch that cannot wait whole is refused before its images are inspected.
        if (!admission.accepts(options.client ?? ANONYMOUS, images)) throw new Overloaded(deps.admission.retryAfterSeconds);
        const results = await classifyBatch(batch, {
          classifier: model.classifier,
          admission,
          signal: options.signal ?? new AbortController().signal,
          client: options.client,
          observe: (timings) => observer?.observeClassification(timings, model),
          model,
        });
        const id = inferenceId(planned.id, options.id);
        for (const result of results) observer?.observeAnswer?.(model, result);
        let imagesHeld = false;
        if (batch.kind === 'images') {
          const answered = results.map((result, i) => ({ image: batch.images[i]!, result }));
          capture(options, model, id, answered);
          imagesHeld = shadow(answered);
        }
        return { id, plan: planned, results, model: answererOf(model), imagesHeld };
      });
    },

    explain(ref, image, options = {}) {
      return leased(ref, options, async (model) => {
        const { classifier } = model;
        const { signal, client = ANONYMOUS } = options;
        // What can be refused from the header (not an image, too many pixels, a decode bomb) is, at once.
        const header = await classifier.inspect(image, client);
        const decoding = <T>(decode: () => Promise<T>): Promise<T> =>
          admission.run(decode, { costBytes: header.decodeBytes, client, ...(signal ? { signal } : {}) });
        let started = 0;
        const { result, picture } = await explainGate.run(async () => {
          started = performance.now();
          const result = await classifier.explain(image, { grid, header, decoding, client, ...(signal ? { signal } : {}) });
          const picture = options.picture
            ? await decoding(() => overlayPng(image, result.heatmap, result.region, { maxSide: options.picture!.maxSide }))
            : undefined;
          return { result, picture };
        }, { client, ...(signal ? { signal } : {}) });
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
