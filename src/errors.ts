/**
 * The error catalogue: every outcome the service reports to a client other than success.
 *
 * Each outcome is a subclass of {@link ProblemError} with a stable `code`. The one renderer
 * (`src/http/problem.ts`) turns them into RFC 9457 `application/problem+json`; the spec documents
 * each code (`openapi/openapi.yaml`, `components.schemas.Problem.properties.code`), and
 * `test/unit/errors.test.ts` checks that the two agree.
 */

/** Stable machine-readable codes, one per outcome. */
export type ProblemCode =
  | 'bad-request'
  | 'validation-failed'
  | 'not-found'
  | 'method-not-allowed'
  | 'unsupported-media-type'
  | 'not-acceptable'
  | 'payload-too-large'
  | 'image-undecodable'
  | 'image-too-large'
  | 'image-too-complex'
  | 'token-missing'
  | 'invalid-token'
  | 'insufficient-scope'
  | 'auth-unavailable'
  | 'request-timeout'
  | 'headers-too-large'
  | 'overloaded'
  | 'rate-limited'
  | 'too-many-connections'
  | 'not-ready'
  | 'model-not-found'
  | 'model-unavailable'
  | 'unknown-tensor'
  | 'tensor-invalid'
  | 'binary-data-invalid'
  | 'batch-too-large'
  | 'model-busy'
  | 'model-control-disabled'
  | 'model-load-failed'
  | 'model-version-not-loaded'
  | 'traffic-conflict'
  | 'capture-not-found'
  | 'unknown-label'
  | 'capture-unavailable'
  | 'invalid-credentials'
  | 'task-image-refused'
  | 'task-image-unavailable'
  | 'internal';

interface CatalogueEntry {
  readonly status: number;
  readonly title: string;
}

/** Status and title of each code; the `type` URI is derived from the code. */
export const problemCatalogue: Readonly<Record<ProblemCode, CatalogueEntry>> = Object.freeze({
  'bad-request': { status: 400, title: 'Bad request' },
  'validation-failed': { status: 400, title: 'Request does not match the API contract' },
  'not-found': { status: 404, title: 'Not found' },
  'method-not-allowed': { status: 405, title: 'Method not allowed' },
  'unsupported-media-type': { status: 415, title: 'Unsupported media type' },
  'not-acceptable': { status: 406, title: 'Not acceptable' },
  'payload-too-large': { status: 413, title: 'Payload too large' },
  'image-undecodable': { status: 422, title: 'Image cannot be decoded' },
  'image-too-large': { status: 413, title: 'Image dimensions too large' },
  'image-too-complex': { status: 422, title: 'Image too costly to decode' },
  'token-missing': { status: 401, title: 'Authentication required' },
  'invalid-token': { status: 401, title: 'Invalid access token' },
  'insufficient-scope': { status: 403, title: 'Insufficient scope' },
  'auth-unavailable': { status: 503, title: 'Token issuer unavailable' },
  'request-timeout': { status: 408, title: 'Request timeout' },
  'headers-too-large': { status: 431, title: 'Request header fields too large' },
  'overloaded': { status: 503, title: 'Service overloaded' },
  'rate-limited': { status: 429, title: 'Too many requests' },
  'too-many-connections': { status: 503, title: 'Too many connections' },
  'not-ready': { status: 503, title: 'Service not ready' },
  'model-not-found': { status: 404, title: 'Model not found' },
  'model-unavailable': { status: 503, title: 'Model unavailable' },
  'unknown-tensor': { status: 400, title: 'Unknown tensor' },
  'tensor-invalid': { status: 400, title: 'Invalid tensor' },
  'binary-data-invalid': { status: 400, title: 'Invalid binary tensor data' },
  'batch-too-large': { status: 413, title: 'Batch too large' },
  'model-busy': { status: 409, title: 'Model busy' },
  'model-control-disabled': { status: 409, title: 'Model control disabled' },
  'model-load-failed': { status: 422, title: 'Model version refused' },
  'model-version-not-loaded': { status: 404, title: 'Model version not loaded' },
  'traffic-conflict': { status: 409, title: 'Traffic conflicts with the model\'s state' },
  'capture-not-found': { status: 404, title: 'Capture not found' },
  'unknown-label': { status: 422, title: 'Label unknown to the model' },
  'capture-unavailable': { status: 503, title: 'Capture store unavailable' },
  'invalid-credentials': { status: 401, title: 'Invalid credentials' },
  'task-image-refused': { status: 422, title: 'Task image refused' },
  'task-image-unavailable': { status: 502, title: 'Task image unavailable' },
  'internal': { status: 500, title: 'Internal server error' },
});

/** Prefix of every problem `type` URI (RFC 9457 §3.1.1); the code follows it. */
export const problemTypePrefix = 'urn:cat-dog-other:problem:';

/** Optional parts of a problem besides its code. */
export interface ProblemOptions {
  /** Human-readable explanation specific to this occurrence. Never includes secrets. */
  readonly detail?: string;
  /** Response headers that belong to the problem, such as `WWW-Authenticate` or `Retry-After`. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Extension members (RFC 9457 §3.2), such as validation `errors`. */
  readonly extensions?: Readonly<Record<string, unknown>>;
  readonly cause?: unknown;
}

/** Base class of every error the service reports to clients. */
export class ProblemError extends Error {
  readonly code: ProblemCode;
  readonly status: number;
  readonly title: string;
  readonly type: string;
  readonly detail: string | undefined;
  readonly headers: Readonly<Record<string, string>>;
  readonly extensions: Readonly<Record<string, unknown>>;

  constructor(code: ProblemCode, options: ProblemOptions = {}) {
    const entry = problemCatalogue[code];
    super(options.detail ?? entry.title, { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.status = entry.status;
    this.title = entry.title;
    this.type = problemTypePrefix + code;
    this.detail = options.detail;
    this.headers = options.headers ?? {};
    this.extensions = options.extensions ?? {};
  }
}

/** A request whose framing or multipart structure is broken. */
export class BadRequest extends ProblemError {
  constructor(detail: string, options: Omit<ProblemOptions, 'detail'> = {}) {
    super('bad-request', { ...options, detail });
  }
}

/** A request the spec rejects; `errors` lists where and why. */
export class ValidationFailed extends ProblemError {
  constructor(detail: string, errors: readonly ValidationIssue[]) {
    super('validation-failed', { detail, extensions: { errors } });
  }
}

/** One schema violation, as reported to clients. */
export interface ValidationIssue {
  /** JSON Pointer into the request (`/requestBody/file`, `/query/x`). */
  readonly pointer: string;
  readonly message: string;
}

export class NotFound extends ProblemError {
  constructor(path: string) {
    super('not-found', { detail: `No operation at ${path}` });
  }
}

export class MethodNotAllowed extends ProblemError {
  constructor(method: string, path: string, allowed: readonly string[]) {
    super('method-not-allowed', {
      detail: `${method} is not allowed on ${path}`,
      headers: { Allow: allowed.join(', ') },
    });
  }
}

export class UnsupportedMediaType extends ProblemError {
  constructor(received: string, accepted: readonly string[]) {
    super('unsupported-media-type', {
      detail: `Content-Type ${received || '(none)'} is not accepted; use ${accepted.join(' or ')}`,
      headers: { Accept: accepted.join(', ') },
    });
  }
}

/**
 * The `Accept` header allows none of the media types the operation can answer with.
 * RFC 9110 §15.5.7: the server "cannot produce a response [...] acceptable to the user agent".
 */
export class NotAcceptable extends ProblemError {
  constructor(accept: string, available: readonly string[]) {
    super('not-acceptable', { detail: `The answer can be ${available.join(' or ')}; Accept allows neither (${accept})` });
  }
}

/** An upload over `maxUploadBytes`, or a request body over its operation's limit. */
export class PayloadTooLarge extends ProblemError {
  /** `detail` replaces the upload's wording, for bodies that are not uploads. */
  constructor(maxBytes: number, detail?: string) {
    super('payload-too-large', { detail: detail ?? `The upload is larger than the limit of ${maxBytes} bytes` });
  }
}

/** Bytes that no supported image decoder accepts (not an image, truncated, corrupt). */
export class ImageUndecodable extends ProblemError {
  constructor(detail: string, cause?: unknown) {
    super('image-undecodable', { detail, cause });
  }
}

/** Why an image is too large: its pixel count, or the memory its decode would need. */
export type ImageSizeLimit =
  | { readonly maxPixels: number }
  | { /** As told to the client: `AVIF`, `progressive JPEG`… */ readonly format: string; readonly decodeBytes: number; readonly maxDecodeBytes: number };

const MiB = 1024 * 1024;

/**
 * An image refused from its header, before decoding: more pixels than `maxImagePixels`, or a
 * decode that would need more memory than one decode may use (see `src/model/image/decode-cost.ts`).
 */
export class ImageTooLarge extends ProblemError {
  constructor(width: number, height: number, limit: ImageSizeLimit) {
    super('image-too-large', {
      detail: 'maxPixels' in limit
        ? `The image declares ${width}x${height} pixels, over the limit of ${limit.maxPixels} pixels`
        : `Decoding this ${limit.format} image of ${width}x${height} pixels would need about `
          + `${Math.ceil(limit.decodeBytes / MiB)} MiB, over the ${Math.floor(limit.maxDecodeBytes / MiB)} MiB one image may use; `
          + 'send it smaller or as a baseline JPEG',
    });
  }
}

/**
 * An image whose decode costs far more than its size suggests: a progressive JPEG with more
 * scans than `JPEG_MAX_SCANS` (refused before decoding), or a decode that ran past
 * `DECODE_TIMEOUT_SECONDS`.
 */
export class ImageTooComplex extends ProblemError {
  constructor(detail: string, cause?: unknown) {
    super('image-too-complex', { detail, cause });
  }
}

/**
 * Which deadline a slow client missed: the headers (`HEADERS_TIMEOUT_MS`), the whole request
 * (`REQUEST_TIMEOUT_MS`), or the body's minimum rate (`MIN_BODY_RATE_BYTES_PER_SECOND`).
 */
export type RequestDeadline =
  | { readonly kind: 'headers'; readonly timeoutMs: number }
  | { readonly kind: 'request'; readonly timeoutMs: number }
  | { readonly kind: 'body-rate'; readonly minBytesPerSecond: number };

/** The request was not received in time (a slow or stalled client); `detail` names the deadline missed. */
export class RequestTimeout extends ProblemError {
  constructor(deadline: RequestDeadline) {
    super('request-timeout', { detail: requestTimeoutDetail(deadline) });
  }
}

function requestTimeoutDetail(deadline: RequestDeadline): string {
  switch (deadline.kind) {
    case 'headers':
      return `The request headers were not received within ${deadline.timeoutMs} ms`;
    case 'request':
      return `The request was not completed within ${deadline.timeoutMs} ms`;
    case 'body-rate':
      return `The request body arrived slower than the minimum of ${deadline.minBytesPerSecond} bytes per second`;
  }
}

/**
 * The request headers exceed Node's `maxHeaderSize`. RFC 6585 §5: "The server is unwilling to
 * process the request because its header fields are too large."
 */
export class HeadersTooLarge extends ProblemError {
  constructor() {
    super('headers-too-large');
  }
}

/** Too many classifications in flight and queued. */
export class Overloaded extends ProblemError {
  constructor(retryAfterSeconds: number, detail = 'Too many requests in flight; retry later') {
    super('overloaded', {
      detail,
      headers: { 'Retry-After': String(retryAfterSeconds) },
    });
  }
}

/** A client's rate limit as told in a refusal: its policy, and where its bucket stands. */
export interface RateLimitState {
  /** The policy's name, as `RateLimit-Policy` names it. */
  readonly policy: string;
  /** The bucket's capacity, in images. */
  readonly quota: number;
  /** The time an empty bucket takes to fill, in seconds. */
  readonly windowSeconds: number;
  /** Images left in the bucket now. */
  readonly remaining: number;
  /** Seconds until the bucket holds an image again. */
  readonly retryAfterSeconds: number;
}

/**
 * The client (a token's subject, or an address) has used its images for now: its rate limit
 * (`RATE_LIMIT_IMAGES_PER_SECOND`, `RATE_LIMIT_BURST_IMAGES`). Refused before its body is read.
 * The `RateLimit-Policy` and `RateLimit` fields are those of the IETF httpapi working group's
 * draft-ietf-httpapi-ratelimit-headers-10 (structured-field lists: `"images";q=…;w=…` and
 * `"images";r=…;t=…`), and `violated-policies` its quota-exceeded problem's member.
 */
export class RateLimited extends ProblemError {
  constructor(state: RateLimitState) {
    super('rate-limited', {
      detail: `Too many images from you: at most ${state.quota} at once, refilled over ${state.windowSeconds} s; retry in ${state.retryAfterSeconds} s`,
      headers: {
        'Retry-After': String(state.retryAfterSeconds),
        'RateLimit-Policy': `"${state.policy}";q=${state.quota};w=${state.windowSeconds}`,
        'RateLimit': `"${state.policy}";r=${state.remaining};t=${state.retryAfterSeconds}`,
      },
      extensions: { 'violated-policies': [state.policy] },
    });
  }
}

/**
 * A connection refused when it opened, before any request was read: the client's address holds
 * `MAX_CONNECTIONS_PER_ADDRESS`, or the server `MAX_CONNECTIONS` (or all but the reserve kept
 * for new clients).
 */
export class TooManyConnections extends ProblemError {
  constructor(scope: 'address' | 'server', retryAfterSeconds: number) {
    super('too-many-connections', {
      detail: scope === 'address'
        ? 'Too many connections are open from your address; close one or retry later'
        : 'The server has too many connections open; retry later',
      headers: { 'Retry-After': String(retryAfterSeconds) },
    });
  }
}

/** The service is starting or draining. */
export class NotReady extends ProblemError {
  constructor(detail: string) {
    super('not-ready', { detail, headers: { 'Retry-After': '1' } });
  }
}

/** The model repository has no model of that name, or no such version of it. */
export class ModelNotFound extends ProblemError {
  constructor(name: string, version?: string) {
    super('model-not-found', {
      detail: version === undefined ? `No model named "${name}"` : `Model "${name}" has no version "${version}"`,
    });
  }
}

/**
 * The model (or the version asked for) exists but cannot serve now: it is loading, it failed its
 * checks, or it was unloaded; `reason` says which.
 */
export class ModelUnavailable extends ProblemError {
  constructor(name: string, version: string | undefined, reason: string) {
    super('model-unavailable', {
      detail: `Model "${name}"${version === undefined ? '' : ` version "${version}"`} is not available: ${reason}`,
      headers: { 'Retry-After': '5' },
    });
  }
}

/**
 * An Open Inference Protocol request names an input or output the model does not have. The
 * protocol's clients send every input they know of: a name we do not serve is refused, never ignored.
 */
export class UnknownTensor extends ProblemError {
  constructor(kind: 'input' | 'output', name: string, known: readonly string[]) {
    super('unknown-tensor', {
      detail: `Model has no ${kind} "${name}"; its ${kind}s are ${known.map((k) => `"${k}"`).join(', ')}`,
    });
  }
}

/** A load or an unload of a model on which another one is in progress (a version is loading). */
export class ModelBusy extends ProblemError {
  constructor(name: string, doing: string) {
    super('model-busy', {
      detail: `Model "${name}" is busy (${doing}); retry once it is done`,
      headers: { 'Retry-After': '5' },
    });
  }
}

/** The management API cannot change what is served: `MODEL_CONTROL=none`, or a fixed model (MODEL_MANIFEST in tests). */
export class ModelControlDisabled extends ProblemError {
  constructor() {
    super('model-control-disabled', {
      detail: 'Models are not loaded or unloaded through the API on this server (MODEL_CONTROL=none)',
    });
  }
}

/**
 * A tensor of an inference request that cannot be served: wrong datatype, a shape that its data
 * or the model disagrees with, base64 that is not base64, an input given twice or not at all.
 */
export class TensorInvalid extends ProblemError {
  constructor(detail: string) {
    super('tensor-invalid', { detail });
  }
}

/**
 * The binary tensor data extension's framing is broken: `Inference-Header-Content-Length` not a
 * length within the body, a `binary_data_size` past its end, a BYTES element whose 4-byte length
 * runs past its tensor, bytes left over.
 */
export class BinaryDataInvalid extends ProblemError {
  constructor(detail: string) {
    super('binary-data-invalid', { detail });
  }
}

/** More images (or tensor rows) in one inference request than `MAX_BATCH_IMAGES`. */
export class BatchTooLarge extends ProblemError {
  constructor(count: number | string, maxImages: number) {
    super('batch-too-large', {
      detail: `The request holds ${count} images, over the limit of ${maxImages} per request; send them in several requests`,
    });
  }
}

/**
 * A load through the management API whose version failed its checks (file, manifest, graph,
 * golden examples); what served before keeps serving.
 */
export class ModelLoadFailed extends ProblemError {
  constructor(name: string, version: string, reason: string, serving: string | undefined) {
    super('model-load-failed', {
      detail: `Model "${name}" version "${version}" was refused: ${reason}; `
        + (serving === undefined ? 'no version of it serves' : `version ${serving} keeps serving`),
    });
  }
}

/**
 * A request names a version the repository has but does not keep loaded: its model's version
 * policy (`<model>/config.json`, Triton's `version_policy`) leaves it out, or it was unloaded.
 * Waiting cannot help (unlike `model-unavailable`): the detail says how to load it.
 */
export class ModelVersionNotLoaded extends ProblemError {
  constructor(name: string, version: string, kept: string) {
    super('model-version-not-loaded', {
      detail: `Model "${name}" version "${version}" is not loaded: ${kept}. To serve it, add it to "version_policy" `
        + `in ${name}/config.json and call POST /v2/repository/models/${name}/load, or load and pin it with `
        + `POST /v2/repository/models/${name}/load {"parameters":{"version":"${version}"}} (scope manage::models)`,
    });
  }
}

/**
 * A traffic setting (`PUT /v2/repository/models/{name}/traffic`) that cannot apply: its
 * candidate is the pinned version, or no other version could serve beside it.
 */
export class TrafficConflict extends ProblemError {
  constructor(name: string, reason: string) {
    super('traffic-conflict', { detail: `Traffic of model "${name}" not changed: ${reason}` });
  }
}

/**
 * No captured answer has this inference id: it was not sampled, its request opted out, it was
 * removed (age, size), or it is still being written.
 */
export class CaptureNotFound extends ProblemError {
  constructor(id: string) {
    super('capture-not-found', { detail: `No captured answer has the id "${id}"` });
  }
}

/** A feedback's label is not one of the labels of the model version that answered. */
export class UnknownLabel extends ProblemError {
  constructor(model: { readonly name: string; readonly version: string }, label: string, labels: readonly string[]) {
    super('unknown-label', {
      detail: `Model "${model.name}" version "${model.version}" has no label "${label}"; its labels are ${labels.join(', ')}`,
    });
  }
}

/** The capture store is off, or cannot be opened or written; `reason` says which. */
export class CaptureUnavailable extends ProblemError {
  constructor(reason: string) {
    super('capture-unavailable', { detail: reason, headers: { 'Retry-After': '30' } });
  }
}

/**
 * HTTP Basic credentials (RFC 7617) that are not the Label Studio backend's: a wrong user or
 * password, or Basic while none is configured. The challenge asks for Basic again.
 */
export class InvalidCredentials extends ProblemError {
  constructor() {
    super('invalid-credentials', {
      detail: 'The Basic credentials are not those of LABEL_STUDIO_BACKEND_USER and LABEL_STUDIO_BACKEND_PASSWORD',
      headers: { 'WWW-Authenticate': 'Basic realm="label-studio", charset="UTF-8"' },
    });
  }
}

/**
 * A Label Studio task whose image the service will not fetch: none in the task, a URL that is not
 * on Label Studio's host (never fetched: the backend is no open proxy), no Label Studio known, or
 * a label config without an `<Image>` and `<Choices>` naming it.
 */
export class TaskImageRefused extends ProblemError {
  constructor(detail: string) {
    super('task-image-refused', { detail });
  }
}

/** Label Studio did not give a task's image: an error status, a redirect, a timeout, too many bytes. */
export class TaskImageUnavailable extends ProblemError {
  constructor(detail: string, cause?: unknown) {
    super('task-image-unavailable', { detail, cause });
  }
}

/** Anything unexpected: rendered without details, logged in full. */
export class InternalError extends ProblemError {
  constructor(cause?: unknown) {
    super('internal', { cause });
  }
}

/**
 * No bearer token in the `Authorization` header.
 *
 * RFC 6750 §3: "If the request lacks any authentication information (e.g., the client was
 * unaware that authentication is necessary [...]), the resource server SHOULD NOT include an
 * error code or other error information."
 *
 * A token sent in the URI query (`access_token`, RFC 6750 §2.3) is not accepted: URIs end up in
 * logs and histories. That request is answered as if it had no token, but with
 * `error="invalid_request"` so that the client learns why; the token is neither used nor echoed.
 */
export class TokenMissing extends ProblemError {
  constructor(realm: string, options: { readonly tokenInQuery?: boolean } = {}) {
    super('token-missing', options.tokenInQuery
      ? {
        detail: 'Access tokens are not accepted in the query string; send it in the Authorization header',
        headers: {
          'WWW-Authenticate': `Bearer realm="${realm}", error="invalid_request", error_description="Access tokens are not accepted in the query string"`,
        },
      }
      : {
        detail: 'This operation requires a bearer access token in the Authorization header',
        headers: { 'WWW-Authenticate': `Bearer realm="${realm}"` },
      });
  }
}

/**
 * RFC 6750 §3.1 `invalid_token`: malformed, expired, revoked or otherwise invalid.
 * `description` goes into a quoted-string: it must be a fixed text without `"` or `\`, never
 * anything taken from the token.
 */
export class InvalidToken extends ProblemError {
  constructor(realm: string, description: string, cause?: unknown) {
    super('invalid-token', {
      detail: description,
      cause,
      headers: {
        'WWW-Authenticate': `Bearer realm="${realm}", error="invalid_token", error_description="${description}"`,
      },
    });
  }
}

/** RFC 6750 §3.1 `insufficient_scope`: the token is valid but lacks a required scope. */
export class InsufficientScope extends ProblemError {
  constructor(realm: string, required: readonly string[]) {
    const scope = required.join(' ');
    super('insufficient-scope', {
      detail: `The access token lacks the scope ${scope}`,
      headers: {
        'WWW-Authenticate': `Bearer realm="${realm}", error="insufficient_scope", scope="${scope}"`,
      },
    });
  }
}

/** The issuer's metadata or key set cannot be fetched: the token can be neither accepted nor refused. */
export class AuthUnavailable extends ProblemError {
  /**
   * @param retryAfterSeconds when the issuer will be asked again (the key set's back-off), so that
   *   a client's retry meets a fresh attempt; default 5 s when it is not known.
   */
  constructor(cause?: unknown, retryAfterSeconds = 5) {
    super('auth-unavailable', {
      detail: 'The token issuer cannot be reached to verify the access token; retry later',
      cause,
      headers: { 'Retry-After': String(Math.max(1, Math.ceil(retryAfterSeconds))) },
    });
  }
}
