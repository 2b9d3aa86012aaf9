/**
 * Service configuration: the only reader of `process.env`.
 *
 * Every setting is an environment variable, validated once at start-up against
 * {@link envSchema}; every problem is reported at once, and the result is frozen.
 * To add a setting: add it to `envSchema` (with a description and default) and to `fields` (its
 * name in {@link Config}; its type follows from the schema); then regenerate docs/configuration.md
 * (`tsx scripts/config-table.ts --write`), and name it in the README if most deployments set it.
 */
import { Ajv } from 'ajv';
import type { FromSchema } from 'json-schema-to-ts';
import { LARGE_DECODE_BYTES, ORDINARY_DECODE_RESERVE_BYTES } from './model/decode-cost.js';
import { classifierDefaults } from './model/defaults.js';

const MiB = 1024 * 1024;

/** Names of models (folders of the repository, `DEFAULT_MODEL`): what a URL path segment and a metric label can carry. */
export const MODEL_NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$';

/** JSON Schema of the environment, by variable name. Descriptions feed docs/configuration.md (scripts/config-table.ts). */
export const envSchema = {
  type: 'object',
  properties: {
    PORT: { type: 'integer', minimum: 0, maximum: 65535, default: 8080, description: 'TCP port to listen on' },
    HOST: { type: 'string', minLength: 1, default: '0.0.0.0', description: 'Address to bind' },
    MODEL_REPOSITORY: {
      type: 'string',
      minLength: 1,
      default: 'resources/models/repository',
      description:
        'Folder of the models served, laid out `<model>/<version>/manifest.json` plus the files each manifest names (versions are positive integers; see docs/model-repository.md); unused when MODEL_MANIFEST is set',
    },
    MODEL_MANIFEST: {
      type: 'string',
      minLength: 1,
      description:
        'Path of one model manifest (JSON) to serve instead of a repository, as version 1 of DEFAULT_MODEL; the ONNX file path inside it is relative to the manifest',
    },
    DEFAULT_MODEL: {
      type: 'string',
      pattern: MODEL_NAME_PATTERN,
      default: 'catdog',
      description: 'Name of the model `/upload` serves: a model folder of the repository, or the name given to MODEL_MANIFEST',
    },
    MODEL_CONTROL: {
      type: 'string',
      enum: ['none', 'explicit', 'poll'],
      default: 'explicit',
      description:
        'What changes the versions served after start-up (each mode loads the newest valid version of every model at start): `none` nothing; `explicit` the management API (`POST /v2/repository/models/{name}/load`, `/unload`); `poll` also a rescan of MODEL_REPOSITORY every MODEL_POLL_INTERVAL_MS, which loads new versions and drops removed ones (`make run` polls). Not `poll` with MODEL_MANIFEST',
    },
    MODEL_POLL_INTERVAL_MS: {
      type: 'integer',
      minimum: 100,
      maximum: 3_600_000,
      default: 5_000,
      description: 'With MODEL_CONTROL=poll, time between two scans of MODEL_REPOSITORY, in milliseconds',
    },
    MAX_UPLOAD_BYTES: {
      type: 'integer',
      minimum: 1024,
      default: 10 * 1024 * 1024,
      description: 'Largest accepted image part, in bytes',
    },
    MAX_IMAGE_PIXELS: {
      type: 'integer',
      minimum: 1,
      default: 40_000_000,
      description: 'Largest accepted image, in pixels (width x height), checked from the header before decoding',
    },
    JPEG_MAX_SCANS: {
      type: 'integer',
      minimum: 1,
      maximum: 10_000,
      default: 100,
      description:
        'Most scans accepted in a JPEG, counted from its markers before decoding; more → 422 image-too-complex. Encoders write 1 (baseline) to about 10 (progressive), and each scan costs the decoder a pass over the whole image: 2,000 empty scans in 190 KB hold a decoder for 10 s',
    },
    DECODE_TIMEOUT_SECONDS: {
      type: 'integer',
      minimum: 1,
      maximum: 3_600,
      default: 10,
      description:
        'Longest time the decoding and resizing of one image may take (sharp\'s timeout), in seconds; a slower image → 422 image-too-complex',
    },
    REQUEST_TIMEOUT_MS: {
      type: 'integer',
      minimum: 1,
      default: 30_000,
      description:
        'Time a client has to send a whole request (headers and body), in milliseconds; a slower client gets 408 request-timeout and its connection is closed',
    },
    HEADERS_TIMEOUT_MS: {
      type: 'integer',
      minimum: 1,
      default: 10_000,
      description: 'Time a client has to send the request headers, in milliseconds; at most REQUEST_TIMEOUT_MS',
    },
    KEEP_ALIVE_TIMEOUT_MS: {
      type: 'integer',
      minimum: 0,
      default: 5_000,
      description:
        'How long an idle keep-alive connection is kept open, in milliseconds; behind a load balancer, set it above the balancer\'s idle timeout',
    },
    MAX_CONNECTIONS: {
      type: 'integer',
      minimum: 1,
      default: 64,
      description:
        'Client connections open at once; beyond it, a new connection is answered 503 too-many-connections (with Retry-After) before its request is read. Each can hold one upload in memory before it is classified: at most MAX_CONNECTIONS × MAX_UPLOAD_BYTES',
    },
    MAX_CONNECTIONS_PER_ADDRESS: {
      type: 'integer',
      minimum: 1,
      default: 32,
      description:
        'Connections one client address (IPv4, or an IPv6 /64) may hold at once; beyond it, 503 too-many-connections. Behind a reverse proxy every client shares the proxy\'s address: set it to MAX_CONNECTIONS and limit clients at the proxy',
    },
    CONNECTION_RESERVE: {
      type: 'integer',
      minimum: 0,
      default: 8,
      description:
        'Of MAX_CONNECTIONS, the last ones kept for addresses holding fewer than CONNECTION_RESERVE / 2 (at least 1) connections: new clients, the kubelet\'s probes; less than MAX_CONNECTIONS',
    },
    MIN_BODY_RATE_BYTES_PER_SECOND: {
      type: 'integer',
      minimum: 1,
      default: 8192,
      description:
        'Slowest accepted upload: after BODY_RATE_GRACE_MS, a request body must arrive at this average rate (each byte buys 1/rate s more), or it gets 408 request-timeout and its connection is closed',
    },
    BODY_RATE_GRACE_MS: {
      type: 'integer',
      minimum: 0,
      default: 5_000,
      description: 'Time a request body may take before MIN_BODY_RATE_BYTES_PER_SECOND applies, in milliseconds',
    },
    MAX_INFER_BODY_BYTES: {
      type: 'integer',
      minimum: 1024,
      default: 64 * MiB,
      description:
        'Largest body of an Open Inference Protocol (V2) inference request, in bytes: its JSON, or its JSON header and binary tensors; a larger declared Content-Length → 413 payload-too-large before anything is read. A body without Content-Length may hold at most MAX_UPLOAD_BYTES + 64 KiB',
    },
    MAX_BATCH_IMAGES: {
      type: 'integer',
      minimum: 1,
      maximum: 1_024,
      default: 64,
      description: 'Most images (or tensor rows) in one V2 inference request; more → 413 batch-too-large, before any is decoded',
    },
    INFER_BODY_MEMORY_MIB: {
      type: 'integer',
      minimum: 0,
      default: 256,
      description:
        'Memory the V2 inference bodies being read and answered at once may hold, in MiB, by estimates from their Content-Length: 2 bytes per byte of a binary body (the body and its images), 4 per byte of a JSON one (the text, the parsed strings, the decoded images). A request whose estimate does not fit now → 503 overloaded before its body is read; one that could never fit → 413. 0 turns the budget off (not for production)',
    },
    DECODE_MEMORY_BUDGET_MIB: {
      type: 'integer',
      minimum: 0,
      default: 256,
      description:
        `Memory the image decodes admitted at once may need, in MiB, by estimates from each header (format and dimensions: an 8-bit AVIF needs about 19 bytes per pixel, a progressive JPEG 3-7, a baseline JPEG 0.5). Large decodes (over ${LARGE_DECODE_BYTES / MiB} MiB each) share all of it but ${ORDINARY_DECODE_RESERVE_BYTES / MiB} MiB, which stays for ordinary images; an image needing more than that share alone → 413 image-too-large, the others wait for memory. Size the container as about 250 MiB (process and model) + DECODE_MEMORY_BUDGET_MIB + MAX_CONNECTIONS × MAX_UPLOAD_BYTES (uploads held in memory) + INFER_BODY_MEMORY_MIB (V2 bodies) + a margin; 0 turns the budget off (not for production)`,
    },
    INFERENCE_WORKERS: {
      type: 'integer',
      minimum: 0,
      maximum: 64,
      default: classifierDefaults.workers,
      description: 'Worker threads that run the model, each with its own onnxruntime session; 0 runs it on the event loop',
    },
    INTRA_OP_THREADS: {
      type: 'integer',
      minimum: 0,
      maximum: 256,
      default: classifierDefaults.intraOpThreads,
      description: 'onnxruntime threads per session for one operator; 0 lets onnxruntime use one per core',
    },
    INT8_WEIGHTS: {
      type: 'string',
      enum: ['auto', 'unsigned', 'as-is'],
      default: classifierDefaults.int8Weights,
      description:
        "How an int8 model's signed weights reach onnxruntime: `unsigned` re-types them as uint8 (exact on every CPU); `as-is` keeps them signed (about twice as fast; exact on x86 CPUs with VNNI or AMX, on ARM64, and on every CPU for weights within ±64 such as the served 7-bit ones); `auto` keeps them where that is exact and re-types them elsewhere",
    },
    BATCH_MAX_SIZE: {
      type: 'integer',
      minimum: 1,
      maximum: 256,
      default: classifierDefaults.batchMaxSize,
      description: 'Most images classified in one forward pass (uploads that arrive while the model is busy are batched); 1 disables batching',
    },
    BATCH_MAX_WAIT_MS: {
      type: 'integer',
      minimum: 0,
      maximum: 1_000,
      default: classifierDefaults.batchMaxWaitMs,
      description: 'How long an image may wait for others to join its batch when the model is idle, in milliseconds; 0 sends it at once',
    },
    MAX_INFLIGHT: {
      type: 'integer',
      minimum: 1,
      default: 16,
      description:
        'Classifications (decode and inference) running at once; at least 2 × BATCH_MAX_SIZE lets a batch form while the previous one runs',
    },
    MAX_QUEUE: {
      type: 'integer',
      minimum: 0,
      default: 128,
      description: 'Classifications waiting for a slot; beyond it, uploads are refused at once with 503 overloaded',
    },
    MAX_LARGE_DECODES: {
      type: 'integer',
      minimum: 1,
      maximum: 64,
      default: 2,
      description:
        `Classifications of large images (estimated decode memory over ${LARGE_DECODE_BYTES / MiB} MiB: 8-bit AVIF over about 1.5 megapixels, GIF over 5, interlaced PNG over 7, progressive JPEG over 8, PNG over 19, baseline JPEG never) running at once. They queue apart from the others (MAX_LARGE_QUEUE) and never take their slots; keep it below libuv's thread pool (UV_THREADPOOL_SIZE, 4 by default), where sharp decodes, so that ordinary images always find a thread`,
    },
    MAX_LARGE_QUEUE: {
      type: 'integer',
      minimum: 0,
      default: 8,
      description: 'Classifications of large images waiting for a slot or for decode memory; beyond it they are refused at once with 503 overloaded',
    },
    EXPLAIN_MAX_PASSES: {
      type: 'integer',
      minimum: 50,
      maximum: 1_025,
      default: 64,
      description: 'Forward passes per explanation (64: 7 × 7 cells)',
    },
    EXPLAIN_MAX_INFLIGHT: {
      type: 'integer',
      minimum: 1,
      default: 1,
      description: 'Explanations running at once',
    },
    EXPLAIN_MAX_QUEUE: {
      type: 'integer',
      minimum: 0,
      default: 4,
      description: 'Explanations waiting; beyond, 503 overloaded',
    },
    OVERLOAD_RETRY_AFTER_SECONDS: {
      type: 'integer',
      minimum: 1,
      default: 1,
      description: 'Retry-After of a 503 overloaded answer, in seconds',
    },
    SHUTDOWN_GRACE_MS: {
      type: 'integer',
      minimum: 0,
      default: 10_000,
      description:
        'On SIGTERM or SIGINT, how long in-flight requests may take to finish before the remaining connections are closed, in milliseconds',
    },
    MODEL_METADATA_PUBLIC: {
      type: 'boolean',
      default: true,
      description:
        'Serve the V2 server and model metadata (GET /v2, GET /v2/models/{name}[/versions/{version}]) without a token; set to false to require the scope get::prediction (when auth is enabled). The V2 health routes stay public',
    },
    METRICS_PUBLIC: {
      type: 'boolean',
      default: false,
      description:
        'Serve GET /metrics without a token; by default it needs a token with the scope get::metrics (the metrics tell the Node version, the model\'s hash and the CPU path)',
    },
    LOG_LEVEL: {
      type: 'string',
      enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
      default: 'info',
      description: 'pino log level',
    },
    AUTH_DISABLED: {
      type: 'boolean',
      default: false,
      description: 'Set to true to serve every operation without a token (development only; logs a warning at start-up)',
    },
    OAUTH2_ISSUER: {
      type: 'string',
      minLength: 1,
      description:
        'Issuer identifier, exactly as in the tokens\' `iss` claim (Auth0: `https://TENANT.auth0.com/`, with the slash); required unless AUTH_DISABLED=true',
    },
    OAUTH2_AUDIENCE: {
      type: 'string',
      minLength: 1,
      description: 'The API identifier the tokens must carry in `aud` (Auth0: the API identifier); required unless AUTH_DISABLED=true',
    },
    OAUTH2_JWKS_URI: {
      type: 'string',
      minLength: 1,
      description: 'URL of the issuer\'s JSON Web Key Set; when unset, discovered from `{OAUTH2_ISSUER}/.well-known/openid-configuration`',
    },
    OAUTH2_UI_CLIENT_ID: {
      type: 'string',
      minLength: 1,
      description: 'Public client id of the web page; unset: no sign-in',
    },
    OAUTH2_ALGORITHMS: {
      type: 'string',
      minLength: 1,
      default: 'RS256,ES256',
      description: 'Comma-separated allow-list of asymmetric JWS algorithms accepted on access tokens (never `none` nor `HS*`)',
    },
    OAUTH2_CLOCK_TOLERANCE_SECONDS: {
      type: 'integer',
      minimum: 0,
      maximum: 300,
      default: 5,
      description: 'Clock skew tolerated when checking `exp`, `nbf` and `iat` (a token issued later than now plus this is refused), in seconds',
    },
    OAUTH2_MAX_TOKEN_AGE_SECONDS: {
      type: 'integer',
      minimum: 1,
      description: 'Oldest access token accepted, from its `iat` claim (then required), in seconds, whatever its `exp`; unset: no bound beyond `exp`',
    },
    OAUTH2_JWKS_COOLDOWN_MS: {
      type: 'integer',
      minimum: 0,
      default: 30_000,
      description:
        'Least time between two requests for the key set, whatever they answered (within it the last answer stands: the same keys, or the same failure), and between two discovery attempts, in milliseconds. Keys need fetching at start-up, when the cache is older than OAUTH2_JWKS_CACHE_MAX_AGE_MS, and for a token with an unknown `kid`; a key set over 256 KiB counts as the issuer being unavailable',
    },
    OAUTH2_JWKS_CACHE_MAX_AGE_MS: {
      type: 'integer',
      minimum: 0,
      default: 600_000,
      description: 'How long a fetched key set is used before it is fetched again, in milliseconds',
    },
    OAUTH2_HTTP_TIMEOUT_MS: {
      type: 'integer',
      minimum: 1,
      default: 5_000,
      description: 'Timeout of each request to the issuer (discovery, key set), in milliseconds',
    },
  },
} as const;

/** The environment as {@link envSchema} describes it, once validated (defaults applied). */
type Settings = FromSchema<typeof envSchema>;

/**
 * Each field of {@link Config} (but `auth`), by the variable it is read from; the field's type is
 * the variable's, from {@link envSchema}. Names carry their units.
 */
const fields = {
  port: 'PORT',
  host: 'HOST',
  /** The model repository's folder (unused when `modelManifestPath` is set). */
  modelRepositoryPath: 'MODEL_REPOSITORY',
  /** One manifest served as version 1 of `defaultModel`, instead of the repository; `undefined`: the repository. */
  modelManifestPath: 'MODEL_MANIFEST',
  /** The model `/upload` serves. */
  defaultModel: 'DEFAULT_MODEL',
  /** What changes the versions served after start-up: nothing, the management API, or it and a rescan. */
  modelControl: 'MODEL_CONTROL',
  /** Time between two scans of the repository with `modelControl` `poll`. */
  modelPollIntervalMs: 'MODEL_POLL_INTERVAL_MS',
  maxUploadBytes: 'MAX_UPLOAD_BYTES',
  maxImagePixels: 'MAX_IMAGE_PIXELS',
  /** Most scans in a JPEG, counted before decoding. */
  maxJpegScans: 'JPEG_MAX_SCANS',
  /** sharp's `timeout` for one image's decode and resize. */
  decodeTimeoutSeconds: 'DECODE_TIMEOUT_SECONDS',
  /**
   * Decode memory of the classifications admitted at once, by their estimates; 0: no budget.
   * The variable is in MiB; loadConfig converts it to bytes.
   */
  decodeMemoryBudgetBytes: 'DECODE_MEMORY_BUDGET_MIB',
  /** Classifications of large images running at once. */
  maxLargeDecodes: 'MAX_LARGE_DECODES',
  /** Classifications of large images waiting. */
  maxLargeQueue: 'MAX_LARGE_QUEUE',
  /** Whole request (headers and body) deadline; Node's `server.requestTimeout`. */
  requestTimeoutMs: 'REQUEST_TIMEOUT_MS',
  /** Request headers deadline; Node's `server.headersTimeout`, at most `requestTimeoutMs`. */
  headersTimeoutMs: 'HEADERS_TIMEOUT_MS',
  /** Idle keep-alive connection lifetime; Node's `server.keepAliveTimeout`. */
  keepAliveTimeoutMs: 'KEEP_ALIVE_TIMEOUT_MS',
  /** Client connections open at once (see `src/http/connection-budget.ts`). */
  maxConnections: 'MAX_CONNECTIONS',
  /** Connections one client address (IPv6: its /64) may hold at once. */
  maxConnectionsPerAddress: 'MAX_CONNECTIONS_PER_ADDRESS',
  /** Of `maxConnections`, the slots kept for addresses holding fewer than `connectionReserve / 2`. */
  connectionReserve: 'CONNECTION_RESERVE',
  /** Average rate a request body must keep after `bodyRateGraceMs`. */
  minBodyRateBytesPerSecond: 'MIN_BODY_RATE_BYTES_PER_SECOND',
  /** Time a body may take before `minBodyRateBytesPerSecond` applies. */
  bodyRateGraceMs: 'BODY_RATE_GRACE_MS',
  /** Largest V2 inference body. */
  maxInferBodyBytes: 'MAX_INFER_BODY_BYTES',
  /** Most images (or tensor rows) in one V2 inference request. */
  maxBatchImages: 'MAX_BATCH_IMAGES',
  /**
   * Estimated memory of the V2 inference bodies held at once; 0: no budget. The variable is in
   * MiB; loadConfig converts it to bytes.
   */
  inferBodyMemoryBytes: 'INFER_BODY_MEMORY_MIB',
  /** Model worker threads (0: the event loop runs the model). */
  inferenceWorkers: 'INFERENCE_WORKERS',
  /** onnxruntime intra-op threads per session (0: one per core). */
  intraOpThreads: 'INTRA_OP_THREADS',
  /** How an int8 model's weights are handed to onnxruntime (see `src/model/int8/kernels.ts`). */
  int8Weights: 'INT8_WEIGHTS',
  /** Most images per forward pass. */
  batchMaxSize: 'BATCH_MAX_SIZE',
  /** Longest wait for a batch to fill when the model is idle. */
  batchMaxWaitMs: 'BATCH_MAX_WAIT_MS',
  /** Classifications running at once. */
  maxInflight: 'MAX_INFLIGHT',
  /** Classifications waiting for a slot before uploads are refused with 503. */
  maxQueue: 'MAX_QUEUE',
  /** Forward passes one explanation may take (its grid follows). */
  explainMaxPasses: 'EXPLAIN_MAX_PASSES',
  /** Explanations running at once. */
  explainMaxInflight: 'EXPLAIN_MAX_INFLIGHT',
  /** Explanations waiting for a slot before they are refused with 503. */
  explainMaxQueue: 'EXPLAIN_MAX_QUEUE',
  overloadRetryAfterSeconds: 'OVERLOAD_RETRY_AFTER_SECONDS',
  /** Time given to in-flight requests after SIGTERM / SIGINT. */
  shutdownGraceMs: 'SHUTDOWN_GRACE_MS',
  /** Whether the V2 server and model metadata are served without a token. */
  modelMetadataPublic: 'MODEL_METADATA_PUBLIC',
  /** Whether `GET /metrics` is served without a token. */
  metricsPublic: 'METRICS_PUBLIC',
  logLevel: 'LOG_LEVEL',
} as const satisfies Record<string, keyof Settings>;

/** The validated, frozen configuration: one field per entry of `fields`, plus `auth`. */
export type Config = { readonly [F in keyof typeof fields]: Settings[(typeof fields)[F]] } & { readonly auth: AuthConfig };

/** Access-token verification: either off (explicitly) or fully pinned. */
export type AuthConfig = AuthDisabledConfig | AuthEnabledConfig;

/** `AUTH_DISABLED=true`: every operation is served without a token. */
export interface AuthDisabledConfig {
  readonly enabled: false;
}

/** The settings of `src/auth/` when tokens are verified. */
export interface AuthEnabledConfig {
  readonly enabled: true;
  /** Expected `iss`, compared exactly. */
  readonly issuer: string;
  /** Expected `aud` (one of the token's audiences). */
  readonly audience: string;
  /** Key set URL; `undefined` means discover it from the issuer's metadata. */
  readonly jwksUri: string | undefined;
  /** Public client id of the web page (`undefined`: the page cannot sign in). */
  readonly uiClientId: string | undefined;
  /** Allow-list of asymmetric JWS algorithms. */
  readonly algorithms: readonly string[];
  readonly clockToleranceSeconds: Settings['OAUTH2_CLOCK_TOLERANCE_SECONDS'];
  /** Oldest token accepted, from `iat`; `undefined`: no bound. */
  readonly maxTokenAgeSeconds: Settings['OAUTH2_MAX_TOKEN_AGE_SECONDS'];
  readonly jwksCooldownMs: Settings['OAUTH2_JWKS_COOLDOWN_MS'];
  readonly jwksCacheMaxAgeMs: Settings['OAUTH2_JWKS_CACHE_MAX_AGE_MS'];
  readonly httpTimeoutMs: Settings['OAUTH2_HTTP_TIMEOUT_MS'];
}

/** JWS algorithms whose verification key is public (RFC 7518 §3.1, RFC 8037): the only ones accepted. */
const asymmetricAlgorithms: readonly string[] = Object.freeze([
  'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519',
]);

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
  // A manifest is one version of one model: nothing to rescan, and no folder to take it from.
  if (manifestAndRepository) {
    problems.push('set MODEL_REPOSITORY or MODEL_MANIFEST, not both');
  }
  if (raw.MODEL_MANIFEST !== undefined && raw.MODEL_CONTROL === 'poll') {
    problems.push('MODEL_CONTROL=poll rescans MODEL_REPOSITORY: with MODEL_MANIFEST use none or explicit');
  }
  const auth = authConfig(raw, problems);
  if (problems.length > 0 || auth === undefined) throw new ConfigError(problems);
  // Validated above: `raw` now holds every variable with its type and default.
  const valid = raw as Settings;
  const settings = Object.fromEntries(Object.entries(fields).map(([field, name]) => [field, valid[name]]));
  settings.decodeMemoryBudgetBytes = valid.DECODE_MEMORY_BUDGET_MIB * MiB;
  settings.inferBodyMemoryBytes = valid.INFER_BODY_MEMORY_MIB * MiB;
  return Object.freeze({ ...settings, auth }) as Config;
}

/** Cross-field rules of the auth settings; pushes every problem and returns `undefined` if any. */
function authConfig(raw: Record<string, unknown>, problems: string[]): AuthConfig | undefined {
  if (raw.AUTH_DISABLED === true) return Object.freeze({ enabled: false });
  const before = problems.length;
  const issuer = raw.OAUTH2_ISSUER;
  const audience = raw.OAUTH2_AUDIENCE;
  const jwksUri = raw.OAUTH2_JWKS_URI;
  if (issuer === undefined) {
    problems.push('OAUTH2_ISSUER is required (or set AUTH_DISABLED=true to serve without tokens)');
  } else if (typeof issuer === 'string') {
    checkIssuerUrl('OAUTH2_ISSUER', issuer, problems);
  }
  if (audience === undefined) {
    problems.push('OAUTH2_AUDIENCE is required (or set AUTH_DISABLED=true to serve without tokens)');
  }
  if (typeof jwksUri === 'string') checkIssuerUrl('OAUTH2_JWKS_URI', jwksUri, problems);
  const algorithms = typeof raw.OAUTH2_ALGORITHMS === 'string'
    ? raw.OAUTH2_ALGORITHMS.split(',').map((a) => a.trim()).filter((a) => a !== '')
    : [];
  const refused = algorithms.filter((a) => !asymmetricAlgorithms.includes(a));
  if (refused.length > 0 || algorithms.length === 0) {
    problems.push(
      `OAUTH2_ALGORITHMS must list asymmetric JWS algorithms only (${asymmetricAlgorithms.join(', ')}); refused: ${refused.join(', ') || '(empty)'}`,
    );
  }
  if (problems.length > before) return undefined;
  return Object.freeze({
    enabled: true,
    issuer: issuer as string,
    audience: audience as string,
    jwksUri: jwksUri as string | undefined,
    uiClientId: raw.OAUTH2_UI_CLIENT_ID as string | undefined,
    algorithms: Object.freeze(algorithms),
    clockToleranceSeconds: raw.OAUTH2_CLOCK_TOLERANCE_SECONDS as number,
    maxTokenAgeSeconds: raw.OAUTH2_MAX_TOKEN_AGE_SECONDS as number | undefined,
    jwksCooldownMs: raw.OAUTH2_JWKS_COOLDOWN_MS as number,
    jwksCacheMaxAgeMs: raw.OAUTH2_JWKS_CACHE_MAX_AGE_MS as number,
    httpTimeoutMs: raw.OAUTH2_HTTP_TIMEOUT_MS as number,
  });
}

/** Keys and metadata must come over HTTPS; plain HTTP is tolerated on loopback only (development, tests). */
function checkIssuerUrl(name: string, value: string, problems: string[]): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    problems.push(`${name} must be an absolute URL`);
    return;
  }
  const loopback = ['127.0.0.1', '[::1]', 'localhost'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    problems.push(`${name} must use https (http is accepted for loopback hosts only)`);
  }
}

/** The configuration as it is safe to log: secrets replaced. */
export function redactConfig(config: Config): Record<string, unknown> {
  return { ...config };
}
