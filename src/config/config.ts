/**
 * Service configuration: the only reader of `process.env`.
 *
 * Every setting is an environment variable, validated once at start-up against the schema
 * (`schema.ts`); every problem is reported at once. The result is shaped into sections, each the
 * options object of the module that takes it (`main.ts` passes them through as they are), and
 * frozen.
 *
 * To add a setting: add it to the schema (with a description and default), then to the section of
 * the module that takes it in {@link sectionsOf}; regenerate docs/configuration.md
 * (`tsx scripts/config-table.ts --write`), and name it in the README if most deployments set it.
 */
import { Ajv } from 'ajv';
import type { FromSchema } from 'json-schema-to-ts';
import type { BasicCredentials } from '../auth/basic.js';
import type { AuthSettings } from '../auth/settings.js';
import type { CaptureSettings } from '../capture/types.js';
import type { EvidenceOptions } from '../inference/evidence.js';
import type { ServerLimits } from '../http/server.js';
import type { AdmissionOptions } from '../inference/admission.js';
import type { ExplainSettings } from '../inference/core.js';
import type { RateLimitOptions } from '../inference/rate-limit.js';
import type { ShadowSettings } from '../inference/traffic.js';
import type { ClassifierOptions } from '../model/classifier.js';
import { LARGE_DECODE_BYTES, largestDecodeBytes, ORDINARY_DECODE_RESERVE_BYTES } from '../model/image/decode-cost.js';
import type { PreprocessLimits } from '../model/image/preprocess.js';
import type { PayloadLoggerSettings } from '../payload/logger.js';
import type { RepositorySettings } from '../repository/from-config.js';
import { authSettings } from './auth.js';
import type { TracingSettings } from '../tracing/settings.js';
import { envSchema } from './schema.js';

export { envSchema } from './schema.js';

const MiB = 1024 * 1024;

/** The environment as the schema describes it, once validated (defaults applied). */
type Settings = FromSchema<typeof envSchema>;

/** The HTTP server: where it listens, its connection-level limits, its shutdown. */
export interface ServerSettings extends ServerLimits {
  readonly port: number;
  readonly host: string;
  /** Time given to in-flight requests after SIGTERM / SIGINT, in milliseconds. */
  readonly shutdownGraceMs: number;
}

/**
 * The gRPC server (`src/frontends/grpc/server.ts`, which takes this shape): where it listens, its
 * connection budget (the HTTP server's settings, a budget of its own), its streams and messages,
 * TLS.
 */
export interface GrpcSettings {
  readonly port: number;
  readonly host: string;
  /** Calls one connection may run at once. */
  readonly maxConcurrentStreams: number;
  /** HTTP/2 flow-control windows of each call and each connection, in bytes. */
  readonly flowControlWindow: number;
  /** Largest message received, in bytes (`MAX_INFER_BODY_BYTES`). */
  readonly maxMessageBytes: number;
  readonly maxConnections: number;
  readonly maxConnectionsPerAddress: number;
  readonly connectionReserve: number;
  /** Certificate chain and key files (PEM); `undefined`: plaintext HTTP/2. */
  readonly tls: { readonly certPath: string; readonly keyPath: string } | undefined;
}

/** Bounds of request bodies: uploads, and Open Inference Protocol requests. */
export interface RequestLimits {
  /** Largest image part of an upload, in bytes. */
  readonly maxUploadBytes: number;
  /** Largest V2 inference body with a declared length, in bytes. */
  readonly maxInferBodyBytes: number;
  /** Most images (or tensor rows) in one V2 inference request. */
  readonly maxBatchImages: number;
  /** Estimated memory of the V2 bodies held at once, in bytes; 0: no budget. */
  readonly inferBodyMemoryBytes: number;
}

/** Which operations are served without a token beyond what the spec makes public. */
export interface AccessSettings {
  /** `GET /metrics` without a token. */
  readonly metricsPublic: boolean;
  /** The V2 server and model metadata without a token. */
  readonly modelMetadataPublic: boolean;
}

/** The validated, frozen configuration: one section per module that takes options. */
export interface Config {
  /** `src/http/server.ts` and `main.ts`. */
  readonly server: ServerSettings;
  /** The gRPC server; `undefined` when `GRPC_PORT=0`. */
  readonly grpc: GrpcSettings | undefined;
  /** The body readers (`src/http/upload.ts`, `src/frontends/v2/body.ts`) and the V2 planner. */
  readonly requests: RequestLimits;
  /** Decoding (`src/model/image/preprocess.ts`). */
  readonly images: Required<PreprocessLimits>;
  /** The engine running the model (`src/model/classifier.ts`). */
  readonly engine: ClassifierOptions;
  /** The classifications' admission gate (`src/inference/admission.ts`). */
  readonly admission: Required<AdmissionOptions>;
  /** Explanations (`src/inference/core.ts`). */
  readonly explain: ExplainSettings;
  /** Each client's rate limit (`src/inference/rate-limit.ts`). */
  readonly rateLimit: RateLimitOptions;
  /** The model repository (`src/repository/from-config.ts`). */
  readonly models: RepositorySettings;
  /** Shadow traffic between versions (`src/inference/traffic.ts`). */
  readonly shadow: ShadowSettings;
  /** Operations made public by setting (`src/app.ts`). */
  readonly access: AccessSettings;
  /** Access-token verification (`src/auth/`). */
  readonly auth: AuthSettings;
  /** The sampled answers, their images and feedback (`src/capture/`). */
  readonly capture: CaptureSettings;
  /** The Label Studio ML backend (`src/frontends/label-studio/`). */
  readonly labelStudio: LabelStudioSettings;
  /** Payload events (`src/payload/`). */
  readonly payloadLogger: PayloadLoggerSettings;
  /** The evidence per model version (`src/inference/evidence.ts`). */
  readonly evidence: EvidenceOptions;
  /** pino's level. */
  readonly logLevel: Settings['LOG_LEVEL'];
  /** OpenTelemetry traces (`src/tracing/`): off unless an exporter is asked for. */
  readonly tracing: TracingSettings;
}

/** The `LABEL_STUDIO_*` settings. */
export interface LabelStudioSettings {
  /** Label Studio's URL, the one host task images are fetched from; unset: the host a `setup` call names. */
  readonly url: string | undefined;
  /** A key of Label Studio's API, sent as `Authorization: Token <key>`. */
  readonly apiKey: string | undefined;
  /** The Basic credentials Label Studio connects with; `undefined`: Basic is refused. */
  readonly backend: BasicCredentials | undefined;
  /** Longest wait for one task image, in milliseconds. */
  readonly fetchTimeoutMs: number;
}

/** Thrown when the environment is invalid; `problems` lists every one of them. */
export class ConfigError extends Error {
  readonly code = 'invalid-config';
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`invalid configuration: ${problems.join('; ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** The process environment, or a test's. */
type Env = Readonly<Record<string, string | undefined>>;

const ajv = new Ajv({ allErrors: true, coerceTypes: true, useDefaults: true, strict: false });
const validateEnv = ajv.compile(envSchema);

/** The validated variables, shaped into the sections of {@link Config}. */
function sectionsOf(s: Settings, auth: AuthSettings): Config {
  const retryAfterSeconds = s.OVERLOAD_RETRY_AFTER_SECONDS;
  const decodeMemoryBudgetBytes = s.DECODE_MEMORY_BUDGET_MIB * MiB;
  return {
    server: {
      port: s.PORT,
      host: s.HOST,
      requestTimeoutMs: s.REQUEST_TIMEOUT_MS,
      headersTimeoutMs: s.HEADERS_TIMEOUT_MS,
      keepAliveTimeoutMs: s.KEEP_ALIVE_TIMEOUT_MS,
      maxConnections: s.MAX_CONNECTIONS,
      maxConnectionsPerAddress: s.MAX_CONNECTIONS_PER_ADDRESS,
      connectionReserve: s.CONNECTION_RESERVE,
      minBodyRateBytesPerSecond: s.MIN_BODY_RATE_BYTES_PER_SECOND,
      bodyRateGraceMs: s.BODY_RATE_GRACE_MS,
      overloadRetryAfterSeconds: retryAfterSeconds,
      shutdownGraceMs: s.SHUTDOWN_GRACE_MS,
    },
    grpc: s.GRPC_PORT === 0 ? undefined : {
      port: s.GRPC_PORT,
      host: s.HOST,
      maxConcurrentStreams: s.GRPC_MAX_CONCURRENT_STREAMS,
      flowControlWindow: s.GRPC_FLOW_CONTROL_WINDOW,
      maxMessageBytes: s.MAX_INFER_BODY_BYTES,
      maxConnections: s.MAX_CONNECTIONS,
      maxConnectionsPerAddress: s.MAX_CONNECTIONS_PER_ADDRESS,
      connectionReserve: s.CONNECTION_RESERVE,
      tls: s.GRPC_TLS_CERT_PATH === undefined || s.GRPC_TLS_KEY_PATH === undefined
        ? undefined
        : { certPath: s.GRPC_TLS_CERT_PATH, keyPath: s.GRPC_TLS_KEY_PATH },
    },
    requests: {
      maxUploadBytes: s.MAX_UPLOAD_BYTES,
      maxInferBodyBytes: s.MAX_INFER_BODY_BYTES,
      maxBatchImages: s.MAX_BATCH_IMAGES,
      inferBodyMemoryBytes: s.INFER_BODY_MEMORY_MIB * MiB,
    },
    images: {
      maxImagePixels: s.MAX_IMAGE_PIXELS,
      maxJpegScans: s.JPEG_MAX_SCANS,
      // One image may take the large decodes' share of the budget (decode-cost.ts).
      maxDecodeBytes: largestDecodeBytes(decodeMemoryBudgetBytes),
      decodeTimeoutSeconds: s.DECODE_TIMEOUT_SECONDS,
    },
    engine: {
      workers: s.INFERENCE_WORKERS,
      intraOpThreads: s.INTRA_OP_THREADS,
      int8Weights: s.INT8_WEIGHTS,
      batchMaxSize: s.BATCH_MAX_SIZE,
      batchMaxWaitMs: s.BATCH_MAX_WAIT_MS,
    },
    admission: {
      maxInflight: s.MAX_INFLIGHT,
      maxQueue: s.MAX_QUEUE,
      retryAfterSeconds,
      maxLargeInflight: s.MAX_LARGE_DECODES,
      maxLargeQueue: s.MAX_LARGE_QUEUE,
      memoryBudgetBytes: decodeMemoryBudgetBytes,
    },
    explain: {
      maxPasses: s.EXPLAIN_MAX_PASSES,
      admission: { maxInflight: s.EXPLAIN_MAX_INFLIGHT, maxQueue: s.EXPLAIN_MAX_QUEUE, retryAfterSeconds },
    },
    rateLimit: { imagesPerSecond: s.RATE_LIMIT_IMAGES_PER_SECOND, burstImages: s.RATE_LIMIT_BURST_IMAGES },
    models: {
      repositoryPath: s.MODEL_REPOSITORY,
      manifestPath: s.MODEL_MANIFEST,
      defaultModel: s.DEFAULT_MODEL,
      control: s.MODEL_CONTROL,
      pollIntervalMs: s.MODEL_POLL_INTERVAL_MS,
      maxModelBytes: s.MAX_MODEL_BYTES,
    },
    shadow: { sampleRate: s.SHADOW_SAMPLE_RATE },
    access: { metricsPublic: s.METRICS_PUBLIC, modelMetadataPublic: s.MODEL_METADATA_PUBLIC },
    auth,
    capture: {
      sampleRate: s.CAPTURE_SAMPLE_RATE,
      dir: s.CAPTURE_DIR,
      maxBytes: s.CAPTURE_MAX_MIB * MiB,
      maxAgeMs: s.CAPTURE_MAX_AGE_DAYS * 86_400_000,
      queueBytes: s.CAPTURE_QUEUE_MIB * MiB,
      baseUrl: s.CAPTURE_BASE_URL,
    },
    labelStudio: {
      url: s.LABEL_STUDIO_URL,
      apiKey: s.LABEL_STUDIO_API_KEY,
      backend: s.LABEL_STUDIO_BACKEND_USER !== undefined && s.LABEL_STUDIO_BACKEND_PASSWORD !== undefined
        ? { user: s.LABEL_STUDIO_BACKEND_USER, password: s.LABEL_STUDIO_BACKEND_PASSWORD }
        : undefined,
      fetchTimeoutMs: s.LABEL_STUDIO_FETCH_TIMEOUT_MS,
    },
    payloadLogger: {
      url: s.PAYLOAD_LOGGER_URL,
      mode: s.PAYLOAD_LOGGER_MODE,
      source: s.PAYLOAD_LOGGER_SOURCE,
      inferenceService: s.PAYLOAD_LOGGER_INFERENCE_SERVICE,
      namespace: s.PAYLOAD_LOGGER_NAMESPACE,
      component: s.PAYLOAD_LOGGER_COMPONENT,
      endpoint: s.PAYLOAD_LOGGER_ENDPOINT,
      queueEvents: s.PAYLOAD_LOGGER_QUEUE_EVENTS,
      queueBytes: s.PAYLOAD_LOGGER_QUEUE_MIB * MiB,
      concurrency: s.PAYLOAD_LOGGER_CONCURRENCY,
      timeoutMs: s.PAYLOAD_LOGGER_TIMEOUT_MS,
      retries: s.PAYLOAD_LOGGER_RETRIES,
      backoffMs: s.PAYLOAD_LOGGER_BACKOFF_MS,
    },
    evidence: { windowAnswers: s.EVIDENCE_WINDOW_ANSWERS, lowConfidence: s.EVIDENCE_LOW_CONFIDENCE },
    logLevel: s.LOG_LEVEL,
    tracing: tracingSettings(s),
  };
}

/** The `OTEL_*` headers list (`key=value,...`, values URL-encoded), as an object. */
function otlpHeaders(list: string | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const pair of (list ?? '').split(',')) {
    const at = pair.indexOf('=');
    if (at <= 0) continue;
    const value = pair.slice(at + 1).trim();
    try {
      headers[pair.slice(0, at).trim()] = decodeURIComponent(value);
    } catch {
      headers[pair.slice(0, at).trim()] = value;
    }
  }
  return headers;
}

/**
 * Tracing from the `OTEL_*` variables: on when an exporter is named (`OTEL_TRACES_EXPORTER`) or
 * an OTLP endpoint is set, unless `OTEL_SDK_DISABLED=true` or the exporter is `none`.
 */
function tracingSettings(s: Settings): TracingSettings {
  const endpoint = s.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
    ?? (s.OTEL_EXPORTER_OTLP_ENDPOINT === undefined ? undefined : `${s.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, '')}/v1/traces`);
  const exporter = s.OTEL_TRACES_EXPORTER ?? (endpoint === undefined ? 'none' : 'otlp');
  if (s.OTEL_SDK_DISABLED || exporter === 'none') return { enabled: false };
  return {
    enabled: true,
    exporter,
    // The specification's default for OTLP/HTTP.
    url: endpoint ?? 'http://localhost:4318/v1/traces',
    protocol: s.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? s.OTEL_EXPORTER_OTLP_PROTOCOL,
    headers: otlpHeaders(s.OTEL_EXPORTER_OTLP_HEADERS),
    exportTimeoutMs: s.OTEL_EXPORTER_OTLP_TIMEOUT,
    serviceName: s.OTEL_SERVICE_NAME,
    sampler: s.OTEL_TRACES_SAMPLER,
    samplerRatio: s.OTEL_TRACES_SAMPLER_ARG,
  };
}

/** Freezes `value` and every object in it. */
function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

/**
 * Parses and validates the environment.
 *
 * @param env - defaults to `process.env`; tests pass their own object.
 * @throws {@link ConfigError} listing every invalid variable.
 */
export function loadConfig(env: Env = process.env): Config {
  const known = Object.keys(envSchema.properties);
  // Empty strings mean "unset", as in most container platforms' env editors.
  const raw: Record<string, unknown> = {};
  for (const name of known) {
    const value = env[name];
    if (value !== undefined && value !== '') raw[name] = value;
  }
  const problems: string[] = [];
  // Before validation fills in the defaults.
  const manifestAndRepository = raw.MODEL_MANIFEST !== undefined && raw.MODEL_REPOSITORY !== undefined;
  if (!validateEnv(raw)) {
    problems.push(
      ...(validateEnv.errors ?? []).map((e) => `${e.instancePath.slice(1) || 'environment'} ${e.message ?? 'is invalid'}`),
    );
  }
  // Node refuses a headers timeout longer than the request timeout when the server is created.
  if (typeof raw.HEADERS_TIMEOUT_MS === 'number' && typeof raw.REQUEST_TIMEOUT_MS === 'number'
    && raw.HEADERS_TIMEOUT_MS > raw.REQUEST_TIMEOUT_MS) {
    problems.push('HEADERS_TIMEOUT_MS must not exceed REQUEST_TIMEOUT_MS');
  }
  // Large decodes leave a reserve to ordinary images: a budget must hold it and a large decode.
  const minimumBudgetMib = (ORDINARY_DECODE_RESERVE_BYTES + LARGE_DECODE_BYTES) / MiB;
  if (typeof raw.DECODE_MEMORY_BUDGET_MIB === 'number' && raw.DECODE_MEMORY_BUDGET_MIB > 0
    && raw.DECODE_MEMORY_BUDGET_MIB < minimumBudgetMib) {
    problems.push(`DECODE_MEMORY_BUDGET_MIB must be 0 (no budget) or at least ${minimumBudgetMib}`);
  }
  // A reserve as large as the whole budget would refuse every second connection of every client.
  if (typeof raw.CONNECTION_RESERVE === 'number' && typeof raw.MAX_CONNECTIONS === 'number'
    && raw.CONNECTION_RESERVE >= raw.MAX_CONNECTIONS) {
    problems.push('CONNECTION_RESERVE must be less than MAX_CONNECTIONS');
  }
  // Half a TLS configuration would serve plaintext where TLS was meant.
  if ((raw.GRPC_TLS_CERT_PATH === undefined) !== (raw.GRPC_TLS_KEY_PATH === undefined)) {
    problems.push('set GRPC_TLS_CERT_PATH and GRPC_TLS_KEY_PATH together, or neither');
  }
  if (typeof raw.GRPC_PORT === 'number' && raw.GRPC_PORT !== 0 && raw.GRPC_PORT === raw.PORT) {
    problems.push('GRPC_PORT must differ from PORT (or be 0 to disable gRPC)');
  }
  // A manifest is one version of one model: nothing to rescan, and no folder to take it from.
  // Half a Basic configuration would refuse Label Studio with no clue why.
  if ((raw.LABEL_STUDIO_BACKEND_USER === undefined) !== (raw.LABEL_STUDIO_BACKEND_PASSWORD === undefined)) {
    problems.push('set LABEL_STUDIO_BACKEND_USER and LABEL_STUDIO_BACKEND_PASSWORD together, or neither');
  }
  if (manifestAndRepository) {
    problems.push('set MODEL_REPOSITORY or MODEL_MANIFEST, not both');
  }
  if (raw.MODEL_MANIFEST !== undefined && raw.MODEL_CONTROL === 'poll') {
    problems.push('MODEL_CONTROL=poll rescans MODEL_REPOSITORY: with MODEL_MANIFEST use none or explicit');
  }
  const auth = authSettings(raw, problems);
  if (problems.length > 0 || auth === undefined) throw new ConfigError(problems);
  // Validated above: `raw` now holds every variable with its type and default.
  return deepFreeze(sectionsOf(raw as Settings, auth));
}

let defaults: Config | undefined;

/**
 * The configuration of an empty environment (with `AUTH_DISABLED=true`): every section's
 * defaults, for what is built without a configuration (tests, tools).
 */
export function configDefaults(): Config {
  defaults ??= loadConfig({ AUTH_DISABLED: 'true' });
  return defaults;
}

/**
 * The configuration as it is safe to log: OAuth2 client secrets are never read; Label Studio's
 * API key and the backend's Basic password are shown only as set or not.
 */
export function redactConfig(config: Config): Record<string, unknown> {
  const { labelStudio } = config;
  return {
    ...config,
    labelStudio: {
      url: labelStudio.url,
      apiKey: labelStudio.apiKey === undefined ? undefined : '[set]',
      backend: labelStudio.backend === undefined ? undefined : { user: labelStudio.backend.user, password: '[set]' },
      fetchTimeoutMs: labelStudio.fetchTimeoutMs,
    },
    tracing: config.tracing.enabled ? { ...config.tracing, headers: Object.keys(config.tracing.headers).length > 0 ? '[set]' : {} } : config.tracing,
  };
}
