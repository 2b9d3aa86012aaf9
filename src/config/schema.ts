/**
 * The environment the service reads, as a JSON Schema: every variable with its type, bounds,
 * default and description (docs/configuration.md is generated from the descriptions by
 * `scripts/config-table.ts`). `config.ts` validates the environment against it and shapes the
 * result into the sections the modules take.
 *
 * Defaults that are measured properties of the model's pipeline live beside it
 * (`src/model/defaults.ts`) and are referenced here: each default exists once.
 */
import { LARGE_DECODE_BYTES, ORDINARY_DECODE_RESERVE_BYTES } from '../model/image/decode-cost.js';
import { classifierDefaults, imageDefaults } from '../model/defaults.js';
import { MODEL_NAME_PATTERN } from '../repository/layout.js';

const MiB = 1024 * 1024;

/** JSON Schema of the environment, by variable name. Descriptions feed docs/configuration.md (scripts/config-table.ts). */
export const envSchema = {
  type: 'object',
  properties: {
    PORT: { type: 'integer', minimum: 0, maximum: 65535, default: 8080, description: 'TCP port to listen on' },
    HOST: { type: 'string', minLength: 1, default: '0.0.0.0', description: 'Address to bind (HTTP and gRPC)' },
    GRPC_PORT: {
      type: 'integer',
      minimum: 0,
      maximum: 65535,
      default: 8081,
      description:
        'TCP port of the gRPC server (the Open Inference Protocol\'s gRPC service, Triton\'s ModelStreamInfer and repository RPCs, grpc.health.v1; 8081 is KServe\'s); 0 disables it. Plaintext HTTP/2 (h2c) unless GRPC_TLS_CERT_PATH and GRPC_TLS_KEY_PATH are set',
    },
    GRPC_MAX_CONCURRENT_STREAMS: {
      type: 'integer',
      minimum: 1,
      maximum: 10_000,
      default: 32,
      description:
        'gRPC calls one connection may run at once (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS); a client beyond it waits for a stream. Each call holds at most one message of MAX_INFER_BODY_BYTES',
    },
    GRPC_FLOW_CONTROL_WINDOW: {
      type: 'integer',
      minimum: 65_535,
      maximum: 2_147_483_647,
      default: 1_048_576,
      description:
        'Bytes a gRPC client may send before the server acknowledges them, per call and per connection (HTTP/2 flow-control windows, as grpc-java\'s flowControlWindow); 65535 keeps HTTP/2\'s default, which makes a client wait for a WINDOW_UPDATE every 64 KiB of an image',
    },
    GRPC_TLS_CERT_PATH: {
      type: 'string',
      minLength: 1,
      description: 'PEM certificate chain of the gRPC server: with GRPC_TLS_KEY_PATH, gRPC is served over TLS instead of plaintext HTTP/2',
    },
    GRPC_TLS_KEY_PATH: {
      type: 'string',
      minLength: 1,
      description: 'PEM private key of GRPC_TLS_CERT_PATH',
    },
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
    SHADOW_SAMPLE_RATE: {
      type: 'number',
      minimum: 0,
      maximum: 1,
      default: 1,
      description:
        'While a model has a shadow candidate (PUT /v2/repository/models/{name}/traffic), share of the images its serving version answers that the candidate also classifies, after the answer and only with spare capacity (nothing waiting at the gate, and fewer classifications running than half the cores and than MAX_INFLIGHT/4; otherwise skipped, and counted in catdog_shadow_skipped_total): 0 none, 1 every one. See docs/model-repository.md',
    },
    MAX_MODEL_BYTES: {
      type: 'integer',
      minimum: 1024,
      default: 1024 * MiB,
      description:
        'Largest model file a version may name, in bytes, checked before it is read (the model is held in memory while its sessions are created). The manifest and the golden examples have caps of their own (1 MiB, 16 MiB); every file a version names must be a regular file inside its version folder, and inside MODEL_REPOSITORY once symbolic links are resolved',
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
      default: imageDefaults.maxJpegScans,
      description:
        'Most scans accepted in a JPEG, counted from its markers before decoding; more → 422 image-too-complex. Encoders write 1 (baseline) to about 10 (progressive), and each scan costs the decoder a pass over the whole image: 2,000 empty scans in 190 KB hold a decoder for 10 s',
    },
    DECODE_TIMEOUT_SECONDS: {
      type: 'integer',
      minimum: 1,
      maximum: 3_600,
      default: imageDefaults.decodeTimeoutSeconds,
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
      description: 'Worker threads that run the model, each with its own onnxruntime session: one runs a forward pass while another waits for decodes (the second of the default 2 added 10-25 MiB resident, and ×1.11 requests per second at c=16 on 2 cores). 0 runs it on the event loop',
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
        'Classifications (decode and inference) running at once; at least (INFERENCE_WORKERS + 1) × BATCH_MAX_SIZE lets a batch form while each worker runs one',
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
    RATE_LIMIT_IMAGES_PER_SECOND: {
      type: 'integer',
      minimum: 0,
      default: 1_000,
      description:
        'Each client\'s rate limit, in images per second (a client is a token\'s subject, or without a token its address, an IPv6 address by its /64): an upload counts one image, a V2 request its images, an explanation its forward passes (EXPLAIN_MAX_PASSES). A client whose images are used up is answered 429 rate-limited, with Retry-After and the RateLimit-Policy and RateLimit fields, before its request body is read. The default is above what one client can get from a 2-core machine (about 150 images per second): set it to a client\'s share of yours. 0 turns the limits off',
    },
    RATE_LIMIT_BURST_IMAGES: {
      type: 'integer',
      minimum: 1,
      default: 1_000,
      description:
        'Images a client that kept still may send at once before RATE_LIMIT_IMAGES_PER_SECOND applies (its bucket\'s capacity). A request is let in while its client has at least one image left; a batch that needs more takes them on credit, and the client\'s next requests wait until it is paid back',
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
    CAPTURE_SAMPLE_RATE: {
      type: 'number',
      minimum: 0,
      maximum: 1,
      default: 0,
      description:
        'Share of the answers (of POST /upload, POST /explain and V2 inference over REST and gRPC) kept with their images in CAPTURE_DIR, for labelling (POST /feedback, GET /captures, Label Studio): 0 keeps none (the default: capture is off in production unless set), 1 every answer (`make run` and `make dev` set 1 unless it is set). A request with `X-Capture: off` is never kept. See docs/capture.md',
    },
    CAPTURE_DIR: {
      type: 'string',
      minLength: 1,
      default: 'var/captures',
      description:
        'Folder of the captures: the database `captures.db` (SQLite, WAL) and the images, each stored once by SHA-256 under `images/`; created if need be. In the image, mount a volume there (docs/capture.md). When it cannot be written (a full disk, a read-only folder) the service answers as ever, captures nothing, warns and counts (`catdog_captures_total{outcome="dropped-unwritable"}`), and tries again every 30 s',
    },
    CAPTURE_MAX_MIB: {
      type: 'integer',
      minimum: 1,
      default: 1024,
      description: 'Most the captures may take, images and database together, in MiB; beyond, the oldest captures go first (with their feedback), then the images no capture names',
    },
    CAPTURE_MAX_AGE_DAYS: {
      type: 'integer',
      minimum: 1,
      maximum: 36_500,
      default: 30,
      description: 'Captures older than this go (with their feedback), in days; checked every minute',
    },
    CAPTURE_QUEUE_MIB: {
      type: 'integer',
      minimum: 1,
      maximum: 4096,
      default: 32,
      description:
        'Images of sampled answers waiting to be written, in MiB (copies: the requests\' own memory is let go); when the writer lags beyond it, new samples are dropped and counted (`catdog_captures_total{outcome="dropped-queue-full"}`), never an answer delayed',
    },
    CAPTURE_BASE_URL: {
      type: 'string',
      pattern: '^https?://[^\\s/?#]+(/[^\\s?#]*)?$',
      description:
        'The service\'s public URL (`https://classifier.example.com`), for the image URLs of the Label Studio tasks of `GET /captures?format=label-studio`; unset: each request\'s own origin (its `Host` header)',
    },
    EVIDENCE_WINDOW_ANSWERS: {
      type: 'integer',
      minimum: 1,
      maximum: 100_000,
      default: 500,
      description:
        'Answers of each model version in the sliding window its drift (catdog_model_drift_psi: the population stability index of the predicted labels against the training reference in its manifest) and its low-confidence share are measured over; the PSI is reported once the window holds 30 answers (or is full, if smaller). See docs/evidence.md',
    },
    EVIDENCE_LOW_CONFIDENCE: {
      type: 'number',
      minimum: 0,
      maximum: 1,
      default: 0.6,
      description: 'An answer whose top probability is under this counts as low-confidence (catdog_model_low_confidence_answers_total, catdog_model_low_confidence_share). See docs/evidence.md',
    },
    LABEL_STUDIO_URL: {
      type: 'string',
      pattern: '^https?://[^\\s/?#]+/?$',
      description:
        'Label Studio\'s URL (`http://label-studio:8080`), the one host the Label Studio backend (`/label-studio/`) fetches task images from, whatever Label Studio\'s `setup` call says. Unset: the `hostname` of the latest setup call (kept in memory); none yet: `predict` refuses tasks (422 task-image-refused). Set it in production',
    },
    LABEL_STUDIO_API_KEY: {
      type: 'string',
      minLength: 1,
      description:
        'A key of Label Studio\'s API (Account & Settings → Access Token), sent as `Authorization: Token <key>` when the backend fetches task images; unset: the `access_token` of Label Studio\'s latest `setup` call. Never logged',
    },
    LABEL_STUDIO_BACKEND_USER: {
      type: 'string',
      minLength: 1,
      description:
        'The user of the HTTP Basic authentication Label Studio\'s "Connect model" form sends to `/label-studio/`; with LABEL_STUDIO_BACKEND_PASSWORD. Unset: only bearer tokens (`read::captures`) are accepted there',
    },
    LABEL_STUDIO_BACKEND_PASSWORD: {
      type: 'string',
      minLength: 1,
      description: 'The password of that Basic authentication; set with LABEL_STUDIO_BACKEND_USER. Never logged',
    },
    LABEL_STUDIO_FETCH_TIMEOUT_MS: {
      type: 'integer',
      minimum: 100,
      maximum: 120_000,
      default: 10_000,
      description:
        'Longest time the Label Studio backend waits for one task image from Label Studio (at most MAX_UPLOAD_BYTES of it), in milliseconds; beyond, 502 task-image-unavailable',
    },
    OTEL_SDK_DISABLED: {
      type: 'boolean',
      default: false,
      description: 'OpenTelemetry: `true` turns tracing off whatever the other OTEL_* variables say. See docs/tracing.md',
    },
    OTEL_TRACES_EXPORTER: {
      type: 'string',
      enum: ['otlp', 'console', 'none'],
      description:
        'Where spans go: `otlp` (OTLP over HTTP), `console` (one line per span on stdout, for debugging), `none` (tracing off). Unset: `otlp` when an OTLP endpoint is set, else tracing is off (the default: no span is made)',
    },
    OTEL_EXPORTER_OTLP_ENDPOINT: {
      type: 'string',
      pattern: '^https?://[^\\s?#]+$',
      description:
        'Base URL of the OTLP/HTTP receiver (`http://collector:4318`): traces go to `{endpoint}/v1/traces`. Setting it turns tracing on',
    },
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: {
      type: 'string',
      pattern: '^https?://[^\\s?#]+$',
      description: 'Full URL traces are sent to, as is (`http://collector:4318/v1/traces`); overrides OTEL_EXPORTER_OTLP_ENDPOINT. Setting it turns tracing on',
    },
    OTEL_EXPORTER_OTLP_PROTOCOL: {
      type: 'string',
      enum: ['http/protobuf', 'http/json'],
      default: 'http/protobuf',
      description: 'Encoding of OTLP exports: `http/protobuf` or `http/json` (OTLP over gRPC is not offered)',
    },
    OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: {
      type: 'string',
      enum: ['http/protobuf', 'http/json'],
      description: 'Encoding of trace exports; overrides OTEL_EXPORTER_OTLP_PROTOCOL',
    },
    OTEL_EXPORTER_OTLP_HEADERS: {
      type: 'string',
      pattern: '^\\s*[^=,\\s]+\\s*=[^,]*(,\\s*[^=,\\s]+\\s*=[^,]*)*$',
      description: 'Headers sent with every export, `key1=value1,key2=value2` (values URL-encoded), e.g. a collector\'s API key. Never logged',
    },
    OTEL_EXPORTER_OTLP_TIMEOUT: {
      type: 'integer',
      minimum: 1,
      maximum: 120_000,
      default: 10_000,
      description: 'Longest time one export may take, in milliseconds',
    },
    OTEL_SERVICE_NAME: {
      type: 'string',
      minLength: 1,
      default: 'catdog-classifier',
      description: 'The `service.name` of the spans',
    },
    OTEL_TRACES_SAMPLER: {
      type: 'string',
      enum: ['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio'],
      default: 'parentbased_always_on',
      description:
        'Which traces are kept: `parentbased_*` follows the incoming `traceparent`\'s sampled flag and applies the rest of the name to requests without one; `traceidratio` keeps OTEL_TRACES_SAMPLER_ARG of them',
    },
    OTEL_TRACES_SAMPLER_ARG: {
      type: 'number',
      minimum: 0,
      maximum: 1,
      default: 1,
      description: 'The share of traces the `*traceidratio` samplers keep, 0 to 1',
    },
    PAYLOAD_LOGGER_URL: {
      type: 'string',
      pattern: '^https?://[^\\s/?#@]+(/[^\\s#]*)?$',
      description:
        'Where to send every inference request and its answer (POST /upload, REST V2 and gRPC inference; not sampled) as CloudEvents in binary mode, with KServe\'s payload logger\'s types (`org.kubeflow.serving.inference.request` / `.response`) and extensions, `ce-id` the answer\'s inference id: a Knative broker\'s ingress, a Kafka bridge, any CloudEvents receiver (no credentials in it: none are sent). Unset: none sent. Sent off the request path: an answer never waits for an event nor fails by one; what cannot be sent is dropped and counted (`catdog_payload_events_total`). See docs/payload-events.md',
    },
    PAYLOAD_LOGGER_MODE: {
      type: 'string',
      enum: ['all', 'request', 'response'],
      default: 'all',
      description: 'Which events PAYLOAD_LOGGER_URL gets, as KServe\'s `logger.mode`: both, the requests only, or the answers only',
    },
    PAYLOAD_LOGGER_SOURCE: {
      type: 'string',
      pattern: '^[!-~]{1,512}$',
      description: 'The events\' `ce-source` (a URI reference); unset: `urn:catdog-classifier:<host name>`, so that each replica (pod) is told apart',
    },
    PAYLOAD_LOGGER_INFERENCE_SERVICE: {
      type: 'string',
      pattern: '^[!-~]{1,253}$',
      description: 'The events\' `ce-inferenceservicename` (KServe: the InferenceService\'s name); unset: the name of the model that answered (`catdog`)',
    },
    PAYLOAD_LOGGER_NAMESPACE: {
      type: 'string',
      pattern: '^[!-~]{1,253}$',
      default: 'default',
      description: 'The events\' `ce-namespace` (KServe: the InferenceService\'s Kubernetes namespace)',
    },
    PAYLOAD_LOGGER_COMPONENT: {
      type: 'string',
      pattern: '^[!-~]{1,253}$',
      default: 'predictor',
      description: 'The events\' `ce-component` (KServe: `predictor`, `transformer` or `explainer`)',
    },
    PAYLOAD_LOGGER_ENDPOINT: {
      type: 'string',
      pattern: '^[!-~]{1,253}$',
      default: 'default',
      description: 'The events\' `ce-endpoint` (KServe: `default`, or `canary` for a canary rollout\'s pods)',
    },
    PAYLOAD_LOGGER_QUEUE_EVENTS: {
      type: 'integer',
      minimum: 1,
      maximum: 1_000_000,
      default: 1000,
      description: 'Most events waiting to be sent; beyond, new events are dropped and counted (`outcome="dropped-queue-full"`)',
    },
    PAYLOAD_LOGGER_QUEUE_MIB: {
      type: 'integer',
      minimum: 1,
      maximum: 4096,
      default: 64,
      description: 'Most bytes of event bodies (images, JSON) waiting to be sent, in MiB; beyond, new events are dropped and counted (`outcome="dropped-queue-full"`)',
    },
    PAYLOAD_LOGGER_CONCURRENCY: {
      type: 'integer',
      minimum: 1,
      maximum: 256,
      default: 4,
      description: 'Events sent to PAYLOAD_LOGGER_URL at once',
    },
    PAYLOAD_LOGGER_TIMEOUT_MS: {
      type: 'integer',
      minimum: 100,
      maximum: 600_000,
      default: 5000,
      description: 'Longest wait for the receiver to take one event, in milliseconds; beyond, the attempt failed (and is retried)',
    },
    PAYLOAD_LOGGER_RETRIES: {
      type: 'integer',
      minimum: 0,
      maximum: 20,
      default: 3,
      description: 'Attempts after the first for an event the receiver did not take (network error, timeout, HTTP 408, 429 or 5xx), after a back-off of about PAYLOAD_LOGGER_BACKOFF_MS doubling each time (jittered); then it is dropped and counted (`outcome="dropped-undeliverable"`). Another 4xx drops it at once (`dropped-rejected`)',
    },
    PAYLOAD_LOGGER_BACKOFF_MS: {
      type: 'integer',
      minimum: 1,
      maximum: 60_000,
      default: 200,
      description: 'The first retry\'s back-off for a payload event, in milliseconds (doubling at each retry, with full jitter)',
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
      description: 'Oldest access token accepted, from its `iat` claim (then required), in seconds, whatever its `exp`; unset: no bound beyond `exp` and OAUTH2_MAX_TOKEN_LIFETIME_SECONDS',
    },
    OAUTH2_MAX_TOKEN_LIFETIME_SECONDS: {
      type: 'integer',
      minimum: 1,
      default: 86_400,
      description:
        'Longest access-token lifetime accepted, `exp` − `iat` (for a token without `iat`, `exp` − now), in seconds; a longer-lived token → 401 invalid-token whose description names the bound. A day by default: the longest that common issuers grant by default (Auth0 APIs 24 h; Okta, Cognito, Google 1 h; Microsoft Entra 60-90 min; Keycloak 5 min). See docs/authentication.md',
    },
    OAUTH2_JWKS_COOLDOWN_MS: {
      type: 'integer',
      minimum: 0,
      default: 30_000,
      description:
        'Least time between a successful request to the issuer and the next, in milliseconds: tokens with an unknown `kid` (a key rotated in, or forged tokens) make the service ask for the key set at most this often. Also the longest wait between two attempts after failures (see OAUTH2_RETRY_BACKOFF_MS). The key set is otherwise fetched at start-up and once older than OAUTH2_JWKS_CACHE_MAX_AGE_MS; one request to the issuer runs at a time; a key set over 256 KiB counts as the issuer being unavailable',
    },
    OAUTH2_RETRY_BACKOFF_MS: {
      type: 'integer',
      minimum: 100,
      maximum: 60_000,
      default: 1_000,
      description:
        'After a failed request to the issuer (discovery or key set), the wait before it is asked again, in milliseconds; doubled at each further consecutive failure, up to OAUTH2_JWKS_COOLDOWN_MS (by default 1, 2, 4, 8, 16, then every 30 s). At start-up the service retries on its own until it has the keys (readiness waits for them); afterwards the requests that need the issuer retry it',
    },
    OAUTH2_JWKS_CACHE_MAX_AGE_MS: {
      type: 'integer',
      minimum: 0,
      default: 600_000,
      description: 'Age beyond which the key set is fetched again, in milliseconds; tokens keep being verified with the old keys while the refresh runs',
    },
    OAUTH2_JWKS_STALE_IF_ERROR_MS: {
      type: 'integer',
      minimum: 0,
      default: 3_600_000,
      description:
        'While the issuer cannot be reached, how long beyond OAUTH2_JWKS_CACHE_MAX_AGE_MS the last key set fetched still verifies tokens, in milliseconds (stale-if-error); then it is dropped and tokens get 503 auth-unavailable. It bounds how long a key the issuer withdrew during an outage is still trusted; 0: keys are dropped at their maximum age',
    },
    OAUTH2_HTTP_TIMEOUT_MS: {
      type: 'integer',
      minimum: 1,
      default: 5_000,
      description: 'Timeout of each request to the issuer (discovery, key set), in milliseconds',
    },
  },
} as const;
