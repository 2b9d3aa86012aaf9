/**
 * The error catalogue (`src/errors.ts`) as gRPC statuses: one table, {@link GRPC_STATUS_OF},
 * typed by the catalogue's codes so that a new code does not compile until it has a status here
 * (and `test/unit/frontends/grpc/status.test.ts` checks the table against the catalogue).
 *
 * A refused call carries, besides its status and message (the problem's detail):
 * - `problem-code` in its trailers: the catalogue's stable code (`tensor-invalid`…), as the REST
 *   answers' `code`;
 * - for a refusal worth retrying (`Retry-After` on REST: overloaded, not ready, model loading…),
 *   `retry-after` in seconds, and google.rpc.RetryInfo in `grpc-status-details-bin`, the rich
 *   error model gRPC clients read (https://google.aip.dev/193).
 *
 * Choices where gRPC's codes leave room: what the client must change is INVALID_ARGUMENT (bad
 * tensors, undecodable or too large images, a batch over MAX_BATCH_IMAGES); a message over
 * MAX_INFER_BODY_BYTES is RESOURCE_EXHAUSTED, as gRPC answers an oversized message itself; a
 * full queue is RESOURCE_EXHAUSTED with RetryInfo; a server or model not serving yet is
 * UNAVAILABLE (retried by gRPC's retry policies); a version loading beside another is ABORTED.
 */
import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { problemCatalogue, ProblemError, type ProblemCode } from '../../errors.js';

/** The gRPC status of each problem code. */
export const GRPC_STATUS_OF: Readonly<Record<ProblemCode, status>> = Object.freeze({
  'bad-request': status.INVALID_ARGUMENT,
  'validation-failed': status.INVALID_ARGUMENT,
  'not-found': status.NOT_FOUND,
  'method-not-allowed': status.UNIMPLEMENTED,
  'unsupported-media-type': status.INVALID_ARGUMENT,
  'not-acceptable': status.INVALID_ARGUMENT,
  'payload-too-large': status.RESOURCE_EXHAUSTED,
  'image-undecodable': status.INVALID_ARGUMENT,
  'image-too-large': status.INVALID_ARGUMENT,
  'image-too-complex': status.INVALID_ARGUMENT,
  'token-missing': status.UNAUTHENTICATED,
  'invalid-token': status.UNAUTHENTICATED,
  'insufficient-scope': status.PERMISSION_DENIED,
  'auth-unavailable': status.UNAVAILABLE,
  'request-timeout': status.DEADLINE_EXCEEDED,
  'headers-too-large': status.INVALID_ARGUMENT,
  'overloaded': status.RESOURCE_EXHAUSTED,
  'rate-limited': status.RESOURCE_EXHAUSTED,
  'too-many-connections': status.RESOURCE_EXHAUSTED,
  'not-ready': status.UNAVAILABLE,
  'model-not-found': status.NOT_FOUND,
  'model-unavailable': status.UNAVAILABLE,
  'unknown-tensor': status.INVALID_ARGUMENT,
  'tensor-invalid': status.INVALID_ARGUMENT,
  'binary-data-invalid': status.INVALID_ARGUMENT,
  'batch-too-large': status.INVALID_ARGUMENT,
  'model-busy': status.ABORTED,
  'model-control-disabled': status.FAILED_PRECONDITION,
  'model-load-failed': status.FAILED_PRECONDITION,
  'model-version-not-loaded': status.NOT_FOUND,
  'traffic-conflict': status.FAILED_PRECONDITION,
  'capture-not-found': status.NOT_FOUND,
  'unknown-label': status.INVALID_ARGUMENT,
  'capture-unavailable': status.UNAVAILABLE,
  'invalid-credentials': status.UNAUTHENTICATED,
  'task-image-refused': status.INVALID_ARGUMENT,
  'task-image-unavailable': status.UNAVAILABLE,
  'internal': status.INTERNAL,
});

/** The name of a status (`INVALID_ARGUMENT`), for logs and metric labels. */
export function statusName(code: status): string {
  return status[code] ?? String(code);
}

/** Type URL of google.rpc.RetryInfo in a google.protobuf.Any. */
const RETRY_INFO_TYPE = 'type.googleapis.com/google.rpc.RetryInfo';

/**
 * google.rpc.Status `{code, message, details: [Any(RetryInfo{retry_delay: Duration{seconds}})]}`,
 * encoded (field numbers from google/rpc/status.proto, error_details.proto and duration.proto).
 */
function statusWithRetryInfo(code: status, message: string, seconds: number): Uint8Array {
  const duration = protobuf.Writer.create().uint32(8).int64(seconds).finish();
  const retryInfo = protobuf.Writer.create().uint32(10).bytes(duration).finish();
  const any = protobuf.Writer.create().uint32(10).string(RETRY_INFO_TYPE).uint32(18).bytes(retryInfo).finish();
  return protobuf.Writer.create().uint32(8).int32(code).uint32(18).string(message).uint32(26).bytes(any).finish();
}

/** What a handler's failure becomes: a gRPC error, and the problem code it stands for (for the log and the metrics). */
export interface GrpcFailure {
  readonly error: Partial<ServiceError> & { readonly code: status };
  /** The catalogue's code; `undefined` for a cancelled call. */
  readonly problem: ProblemCode | undefined;
}

/**
 * The gRPC error for `err`: a {@link ProblemError} by the table; a cancelled call's signal
 * reason as CANCELLED; anything else INTERNAL without details (the caller logs it).
 */
export function grpcFailure(err: unknown, cancelled: boolean): GrpcFailure {
  if (cancelled && !(err instanceof ProblemError)) {
    return { error: { code: status.CANCELLED, details: 'The call was cancelled' }, problem: undefined };
  }
  const problem = err instanceof ProblemError ? err : new ProblemError('internal', { cause: err });
  const code = GRPC_STATUS_OF[problem.code];
  const details = problem.code === 'internal' ? problemCatalogue.internal.title : (problem.detail ?? problem.title);
  const metadata = new Metadata();
  metadata.set('problem-code', problem.code);
  const retryAfter = Number(problem.headers['Retry-After']);
  if (Number.isInteger(retryAfter) && retryAfter > 0) {
    metadata.set('retry-after', String(retryAfter));
    metadata.set('grpc-status-details-bin', Buffer.from(statusWithRetryInfo(code, details, retryAfter)));
  }
  return { error: { code, details, metadata }, problem: problem.code };
}
