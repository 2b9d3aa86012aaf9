/**
 * Prometheus metrics (prom-client), in a registry of their own per app (never prom-client's
 * global one), so that tests can build several apps in one process.
 *
 * Names and labels are part of the operations contract (dashboards and alerts use them); the
 * docs/operations.md lists them. Labels only take bounded values: operation ids from the spec (or `none`),
 * status codes, problem codes.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { CaptureStats } from './capture/service.js';
import { registerEvidenceMetrics } from './evidence-metrics.js';
import type { VersionEvidence } from './inference/evidence.js';
import { probabilityDifference, type ShadowComparison, type ShadowSkip } from './inference/traffic.js';
import type { ClassificationTimings } from './model/classifier.js';
import type { PayloadLoggerStats } from './payload/logger.js';
import type { IndexEntry, RepositoryActivity, ServedModel, VersionState } from './repository/types.js';

/** What the metrics read when scraped. */
export interface MetricsSources {
  /** The model versions loaded now (one `catdog_model_info` series each). */
  readonly models: () => readonly ServedModel[];
  /** Every version the repository knows of, with its state (`catdog_model_versions`). */
  readonly versions?: () => readonly IndexEntry[];
  /** Loads and switches since start-up (`catdog_model_loads_total`, `catdog_model_switches_total`). */
  readonly activity?: () => RepositoryActivity;
  /** Classifications running now. */
  readonly inflight: () => number;
  /** Classifications waiting for a slot now. */
  readonly queued: () => number;
  /** Of those, the large images (running, waiting) now. */
  readonly large?: () => { readonly inflight: number; readonly queued: number };
  /** Estimated decode memory of the classifications running now, in bytes. */
  readonly decodeMemoryBytes?: () => number;
  /** Whether `/health/ready` answers 200 now. */
  readonly ready: () => boolean;
  /** The capture store's state and counts (`catdog_capture*`); absent: capture is not configured. */
  readonly capture?: () => CaptureStats;
  /** The payload logger's counts (`catdog_payload_events*`); absent: PAYLOAD_LOGGER_URL is not set. */
  readonly payloadEvents?: () => PayloadLoggerStats;
  /** The evidence per version loaded (`catdog_model_answers_total`, `catdog_model_drift_psi`...; `src/evidence-metrics.ts`). */
  readonly evidence?: () => readonly VersionEvidence[];
}

/** The service's instruments. */
export interface Metrics {
  readonly registry: Registry;
  /** One answered HTTP request; `operation` is the spec's operationId, or `none`. */
  observeRequest(operation: string, status: number, seconds: number): void;
  /** One answered gRPC call (a stream counts once, when it ends); `code` is the status name (`OK`, `INVALID_ARGUMENT`…). */
  observeRpc(rpc: string, code: string, seconds: number): void;
  /** One refused request, by problem code (`overloaded`, `request-timeout`, `image-undecodable`…). */
  countRejection(reason: string): void;
  /** Where the time of one successful classification went, and which model version answered it. */
  observeClassification(timings: ClassificationTimings, model?: { readonly name: string; readonly version: string }): void;
  /** The images (or tensor rows) of one V2 inference request, once its tensors were read. */
  observeInferenceBatch(images: number): void;
  /** One image a shadow candidate classified beside the version that answered (`catdog_shadow_*`). */
  observeShadow(c: ShadowComparison): void;
  /** One image drawn for the shadow that it did not classify, and why. */
  observeShadowSkipped(c: { readonly name: string; readonly candidateVersion: string; readonly reason: ShadowSkip }): void;
}

const states: readonly VersionState[] = ['LOADING', 'READY', 'UNLOADING', 'UNAVAILABLE'];

/** Request latency buckets, in seconds: loopback health checks to queued classifications. */
const REQUEST_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Images per V2 inference request: powers of two up to MAX_BATCH_IMAGES's maximum. */
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];
/** Mean absolute differences of two versions' probabilities for one image: from near-identical to opposite. */
const DIFFERENCE_BUCKETS = [0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.35, 0.5, 1];
/** Model-side buckets, in seconds: one decode or one inference on a small CPU. */
const MODEL_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/** Creates the registry and its instruments, with Node's process metrics. */
export function createMetrics(sources: MetricsSources): Metrics {
  const registry = new Registry();
  const registers = [registry];
  collectDefaultMetrics({ register: registry });

  const requests = new Counter({
    name: 'catdog_http_requests_total',
    help: 'HTTP requests answered, by operation and status.',
    labelNames: ['operation', 'status'] as const,
    registers,
  });
  const latency = new Histogram({
    name: 'catdog_http_request_duration_seconds',
    help: 'Time from the request to the end of its answer, by operation and status, in seconds.',
    labelNames: ['operation', 'status'] as const,
    buckets: REQUEST_BUCKETS,
    registers,
  });
  const rpcs = new Counter({
    name: 'catdog_grpc_requests_total',
    help: 'gRPC calls answered, by RPC (ModelInfer, Check...) and status code name (OK, INVALID_ARGUMENT...).',
    labelNames: ['rpc', 'code'] as const,
    registers,
  });
  const rpcLatency = new Histogram({
    name: 'catdog_grpc_request_duration_seconds',
    help: 'Time from a gRPC call to its status, by RPC and status code name, in seconds (a stream: its whole life).',
    labelNames: ['rpc', 'code'] as const,
    buckets: REQUEST_BUCKETS,
    registers,
  });
  const rejected = new Counter({
    name: 'catdog_requests_rejected_total',
    help: 'Requests refused with a problem answer, by problem code (overloaded, request-timeout, image-undecodable...).',
    labelNames: ['reason'] as const,
    registers,
  });
  const preprocess = new Histogram({
    name: 'catdog_preprocess_duration_seconds',
    help: 'Image decoding, resizing and normalisation time of one classification, in seconds.',
    buckets: MODEL_BUCKETS,
    registers,
  });
  const inference = new Histogram({
    name: 'catdog_inference_duration_seconds',
    help: 'onnxruntime inference time of one classification, in seconds.',
    buckets: MODEL_BUCKETS,
    registers,
  });
  const batchImages = new Histogram({
    name: 'catdog_inference_request_images',
    help: 'Images (or tensor rows) per Open Inference Protocol inference request.',
    buckets: BATCH_BUCKETS,
    registers,
  });
  new Gauge({
    name: 'catdog_classifications_inflight',
    help: 'Classifications running now (at most MAX_INFLIGHT).',
    registers,
    collect() {
      this.set(sources.inflight());
    },
  });
  new Gauge({
    name: 'catdog_classifications_queued',
    help: 'Classifications waiting for a slot now (at most MAX_QUEUE).',
    registers,
    collect() {
      this.set(sources.queued());
    },
  });
  if (sources.large) {
    const large = sources.large;
    new Gauge({
      name: 'catdog_large_classifications_inflight',
      help: 'Classifications of large images (estimated decode memory over 32 MiB) running now (at most MAX_LARGE_DECODES); included in catdog_classifications_inflight.',
      registers,
      collect() {
        this.set(large().inflight);
      },
    });
    new Gauge({
      name: 'catdog_large_classifications_queued',
      help: 'Classifications of large images waiting now (at most MAX_LARGE_QUEUE); included in catdog_classifications_queued.',
      registers,
      collect() {
        this.set(large().queued);
      },
    });
  }
  if (sources.decodeMemoryBytes) {
    const memory = sources.decodeMemoryBytes;
    new Gauge({
      name: 'catdog_decode_memory_bytes',
      help: 'Estimated decode memory of the classifications running now, in bytes (at most DECODE_MEMORY_BUDGET_MIB).',
      registers,
      collect() {
        this.set(memory());
      },
    });
  }
  new Gauge({
    name: 'catdog_ready',
    help: '1 when GET /health/ready answers 200, else 0 (warming up or draining).',
    registers,
    collect() {
      this.set(sources.ready() ? 1 : 0);
    },
  });
  // Label sets in use: a version's series is dropped once it is unloaded, so that version labels stay bounded.
  const answeredSeries = new Map<string, { model: string; version: string }>();
  const answered = new Counter({
    name: 'catdog_model_classifications_total',
    help: 'Successful classifications by model and version, for the versions loaded now (a version\'s series goes when it is unloaded).',
    labelNames: ['model', 'version'] as const,
    registers,
    collect() {
      const loaded = new Set(sources.models().map((m) => `${m.name}/${m.version}`));
      for (const [key, labels] of answeredSeries) {
        if (loaded.has(key)) continue;
        this.remove(labels);
        answeredSeries.delete(key);
      }
    },
  });
  if (sources.versions) {
    const versions = sources.versions;
    new Gauge({
      name: 'catdog_model_versions',
      help: 'Versions of each model of the repository by state (LOADING, READY, UNLOADING, UNAVAILABLE): POST /v2/repository/index says which and why.',
      labelNames: ['model', 'state'] as const,
      registers,
      collect() {
        this.reset();
        for (const entry of versions()) {
          for (const state of states) this.inc({ model: entry.name, state }, entry.state === state ? 1 : 0);
        }
      },
    });
  }
  if (sources.activity) {
    const activity = sources.activity;
    new Counter({
      name: 'catdog_model_loads_total',
      help: 'Version loads since start-up, by model and outcome: loaded, or why the version was refused (model-checksum-mismatch, manifest-invalid, model-unloadable, golden-mismatch...).',
      labelNames: ['model', 'outcome'] as const,
      registers,
      collect() {
        this.reset();
        for (const [model, outcomes] of activity().loads) for (const [outcome, n] of outcomes) this.inc({ model, outcome }, n);
      },
    });
    new Counter({
      name: 'catdog_model_switches_total',
      help: 'Changes of the version that answers requests naming none, by model (swaps, unloads, fall-backs).',
      labelNames: ['model'] as const,
      registers,
      collect() {
        this.reset();
        for (const [model, n] of activity().switches) this.inc({ model }, n);
      },
    });
  }
  if (sources.payloadEvents) {
    const payloadEvents = sources.payloadEvents;
    new Counter({
      name: 'catdog_payload_events_total',
      help: 'Payload events (PAYLOAD_LOGGER_URL) by type (request, response) and outcome: sent, dropped-queue-full (the receiver lagged: PAYLOAD_LOGGER_QUEUE_*), dropped-undeliverable (retries spent: down, slow, 5xx), dropped-rejected (a 4xx), dropped-shutdown.',
      labelNames: ['type', 'outcome'] as const,
      registers,
      collect() {
        this.reset();
        for (const [key, n] of payloadEvents().outcomes) {
          const [type, outcome] = key.split(':') as [string, string];
          this.inc({ type, outcome }, n);
        }
      },
    });
    new Gauge({
      name: 'catdog_payload_events_pending',
      help: 'Payload events waiting or being sent now.',
      registers,
      collect() {
        this.set(payloadEvents().pending);
      },
    });
  }
  if (sources.capture) {
    const capture = sources.capture;
    new Counter({
      name: 'catdog_captures_total',
      help: 'Sampled answers (CAPTURE_SAMPLE_RATE) by outcome: stored, duplicate-id (a V2 id already captured), dropped-queue-full (the writer lagged), dropped-unwritable (a full disk, a read-only CAPTURE_DIR), dropped-unavailable (the store is not open).',
      labelNames: ['outcome'] as const,
      registers,
      collect() {
        this.reset();
        for (const [outcome, n] of capture().outcomes) this.inc({ outcome }, n);
      },
    });
    new Gauge({
      name: 'catdog_capture_writing',
      help: '1 while sampled answers are written to CAPTURE_DIR, 0 while the store cannot write (full disk, read-only folder; retried every 30 s) or is not open.',
      registers,
      collect() {
        this.set(capture().writing ? 1 : 0);
      },
    });
    new Gauge({
      name: 'catdog_capture_queue_bytes',
      help: 'Bytes of images of sampled answers waiting to be written (at most CAPTURE_QUEUE_MIB).',
      registers,
      collect() {
        this.set(capture().queuedBytes);
      },
    });
    new Gauge({
      name: 'catdog_capture_store_bytes',
      help: 'Bytes the captures take, images and database (at most CAPTURE_MAX_MIB).',
      registers,
      collect() {
        this.set(capture().totals?.bytes ?? 0);
      },
    });
    new Gauge({
      name: 'catdog_capture_rows',
      help: 'Captured answers in the store.',
      registers,
      collect() {
        this.set(capture().totals?.captures ?? 0);
      },
    });
  }
  if (sources.evidence) registerEvidenceMetrics(registry, sources.evidence);
  // Shadow comparisons, by model, candidate and serving version: the series of a pair no longer
  // loaded go at the next scrape, as catdog_model_classifications_total's do.
  const shadowSeries = new Map<string, { model: string; version: string; serving_version: string }>();
  /** The label sets of shadow series whose candidate or serving version is no longer loaded. */
  const unloadedPairs = (): { model: string; version: string; serving_version: string }[] => {
    const loaded = new Set(sources.models().map((m) => `${m.name}/${m.version}`));
    return [...shadowSeries.values()].filter((l) => !loaded.has(`${l.model}/${l.version}`) || !loaded.has(`${l.model}/${l.serving_version}`));
  };
  const shadowCompared = new Counter({
    name: 'catdog_shadow_comparisons_total',
    help: 'Images a shadow candidate (version) classified beside the serving version that answered them, by whether both predicted the same label (agree="true"/"false").',
    labelNames: ['model', 'version', 'serving_version', 'agree'] as const,
    registers,
    collect() {
      for (const labels of unloadedPairs()) for (const agree of ['true', 'false']) this.remove({ ...labels, agree });
    },
  });
  const shadowDifference = new Histogram({
    name: 'catdog_shadow_probability_difference',
    help: 'Mean absolute difference of the probabilities of a shadow candidate (version) and the serving version, per image, over the labels they share (0: the same answer; _sum / _count is the mean).',
    labelNames: ['model', 'version', 'serving_version'] as const,
    buckets: DIFFERENCE_BUCKETS,
    registers,
    collect() {
      for (const labels of unloadedPairs()) this.remove(labels);
    },
  });
  const shadowSkipped = new Counter({
    name: 'catdog_shadow_skipped_total',
    help: 'Images drawn for a shadow candidate (SHADOW_SAMPLE_RATE) that it did not classify, by reason: busy (no spare capacity: shadow work is shed first), failed (the candidate was unavailable or failed).',
    labelNames: ['model', 'version', 'reason'] as const,
    registers,
  });
  new Gauge({
    name: 'catdog_model_info',
    help: 'The model versions loaded: 1 each, with the model and version, the manifest name, SHA-256, comma-separated labels and how its int8 weights run (as-is, unsigned or none).',
    labelNames: ['model', 'version', 'name', 'sha256', 'labels', 'int8_weights'] as const,
    registers,
    collect() {
      // Versions come and go with swaps: only the loaded ones are reported.
      this.reset();
      for (const { name: model, version, classifier } of sources.models()) {
        const { name, sha256, labels, int8Weights } = classifier;
        this.set({ model, version, name, sha256, labels: labels.join(','), int8_weights: int8Weights }, 1);
      }
    },
  });

  return {
    registry,
    observeRequest(operation, status, seconds) {
      const labels = { operation, status: String(status) };
      requests.inc(labels);
      latency.observe(labels, seconds);
    },
    observeRpc(rpc, code, seconds) {
      const labels = { rpc, code };
      rpcs.inc(labels);
      rpcLatency.observe(labels, seconds);
    },
    countRejection(reason) {
      rejected.inc({ reason });
    },
    observeClassification(timings, model) {
      preprocess.observe(timings.preprocessMs / 1000);
      inference.observe(timings.inferenceMs / 1000);
      if (!model) return;
      const labels = { model: model.name, version: model.version };
      answeredSeries.set(`${model.name}/${model.version}`, labels);
      answered.inc(labels);
    },
    observeInferenceBatch(images) {
      batchImages.observe(images);
    },
    observeShadow({ name, servingVersion, candidateVersion, serving, shadow }) {
      const labels = { model: name, version: candidateVersion, serving_version: servingVersion };
      shadowSeries.set(`${name}/${candidateVersion}/${servingVersion}`, labels);
      shadowCompared.inc({ ...labels, agree: String(serving.prediction === shadow.prediction) });
      const difference = probabilityDifference(serving, shadow);
      if (difference !== undefined) shadowDifference.observe(labels, difference);
    },
    observeShadowSkipped({ name, candidateVersion, reason }) {
      shadowSkipped.inc({ model: name, version: candidateVersion, reason });
    },
  };
}
