/**
 * What every gRPC call goes through, around its handler, as the HTTP middleware does for REST:
 * authorisation (`access.ts`), a signal that aborts when the client cancels or the deadline
 * passes (queued work then leaves the admission queues), the error mapping (`status.ts`), one
 * log line (`"msg":"rpc"`, the fields of the HTTP request log: operation, status, problem,
 * duration, model, version, prediction, inference id) and the per-RPC metrics; with tracing on, a
 * server span continuing the metadata's W3C `traceparent`, and a span for the token check.
 */
import { randomUUID } from 'node:crypto';
import type { Deadline, Metadata, sendUnaryData, ServerDuplexStream, ServerUnaryCall, ServerWritableStream, status } from '@grpc/grpc-js';
import type { AccessTokenVerifier } from '../../auth/verifier.js';
import { clientOf } from '../../http/client-identity.js';
import type { Logger } from '../../log.js';
import type { Metrics } from '../../metrics.js';
import { incomingParent, inSpan, modelAttributes, startServerSpan, tracingOn } from '../../tracing/tracer.js';
import { authorize, type AccessRule, type Caller, type GuardedRpc } from './access.js';
import { grpcFailure, statusName, type GrpcFailure } from './status.js';

/** What the call's log line says about its outcome, filled in by the handler. */
export interface CallNote {
  model?: { readonly name: string; readonly version: string };
  prediction?: string;
  /** The answer's inference id (its capture's address), as the HTTP request log gives it. */
  inferenceId?: string;
  /** Stream calls: requests answered, and how many of them with an error. */
  requests?: number;
  failed?: number;
}

/** What a handler gets besides its request. */
export interface CallContext {
  /** Aborts when the client cancels or the deadline passes. */
  readonly signal: AbortSignal;
  /** The call's logger (with its request id). */
  readonly log: Logger;
  readonly note: CallNote;
  /**
   * Who the call is for, as REST names its clients (`src/http/client-identity.ts`): `token:<sub>`
   * once the call's token is verified, else `address:<peer's address>`. The inference core's
   * queues take clients in turn, and the rate limits count per client.
   */
  client: string;
  /** The verified token's subject, when the call had one (for the capture of its answers). */
  subject?: string;
  /** The call's id in the log (`x-request-id` metadata when sane, else made). */
  readonly requestId: string;
  /** `false` when the call opted out of capture (`x-capture: off` metadata). */
  readonly capture: boolean;
}

/** What the wrapper needs. */
export interface CallDeps {
  readonly log: Logger;
  readonly metrics: Pick<Metrics, 'observeRpc' | 'countRejection'>;
  readonly rules: Readonly<Record<GuardedRpc, AccessRule>>;
  /** `undefined`: `AUTH_DISABLED=true`. */
  readonly verifier: AccessTokenVerifier | undefined;
}

/** What the bookkeeping reads of any call: its metadata, its deadline, its cancellation. */
interface AnyCall {
  readonly metadata: Metadata;
  getPeer(): string;
  getDeadline(): Deadline;
  once(event: 'cancelled', listener: () => void): unknown;
  off(event: 'cancelled', listener: () => void): unknown;
}

const REQUEST_ID = /^[\w.:-]{1,128}$/;

/** The address of a grpc-js peer (`127.0.0.1:5000`, `[::1]:5000`, maybe prefixed `ipv4:`/`ipv6:`). */
function peerAddress(peer: string): string | undefined {
  const hostPort = peer.replace(/^ipv[46]:/, '');
  return /^\[(.+)\]:\d+$/.exec(hostPort)?.[1] ?? /^(.+):\d+$/.exec(hostPort)?.[1];
}

/** Names the call's client once it is authorised: its token's subject, else its address (as REST does). */
function identify(context: CallContext, caller: Caller, peer: string): void {
  context.client = clientOf(caller.subject, peerAddress(peer));
  if (caller.subject !== undefined && caller.subject !== '') context.subject = caller.subject;
}

/** The first value of a text metadata entry. */
function metadataText(metadata: Metadata, key: string): string {
  const value = metadata.get(key)[0];
  return typeof value === 'string' ? value : '';
}

/** The full gRPC service of `rpc`, as span names and `rpc.service` give it. */
const serviceOf = (rpc: GuardedRpc): string => (rpc.startsWith('Health.') ? 'grpc.health.v1.Health' : 'inference.GRPCInferenceService');
/** The method of `rpc` within its service. */
const methodOf = (rpc: GuardedRpc): string => rpc.replace(/^Health\./, '');

/** Starts the bookkeeping of a call; `finish` logs it and records its metrics once. */
function begin(deps: CallDeps, rpc: GuardedRpc, call: AnyCall) {
  const started = performance.now();
  const incoming = metadataText(call.metadata, 'x-request-id');
  const requestId = REQUEST_ID.test(incoming) ? incoming : randomUUID();
  const log = deps.log.child({ reqId: requestId });
  const controller = new AbortController();
  const onCancelled = (): void => controller.abort(new Error('the client cancelled the call or its deadline passed'));
  call.once('cancelled', onCancelled);
  // grpc-js answers DEADLINE_EXCEEDED itself; this also stops the work the call queued.
  const deadline = call.getDeadline();
  const deadlineMs = deadline instanceof Date ? deadline.getTime() : deadline;
  const timer = Number.isFinite(deadlineMs) ? setTimeout(onCancelled, Math.max(0, deadlineMs - Date.now())) : undefined;
  timer?.unref();
  const note: CallNote = {};
  // With tracing on (OTEL_*), the call's server span, continuing the metadata's `traceparent`.
  const span = tracingOn()
    ? startServerSpan(`${serviceOf(rpc)}/${methodOf(rpc)}`, incomingParent({
      traceparent: metadataText(call.metadata, 'traceparent') || undefined,
      tracestate: metadataText(call.metadata, 'tracestate') || undefined,
    }), { 'rpc.system': 'grpc', 'rpc.service': serviceOf(rpc), 'rpc.method': methodOf(rpc) })
    : undefined;
  let finished = false;
  const finish = (code: status, failure?: GrpcFailure, err?: unknown): void => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    call.off('cancelled', onCancelled);
    const name = statusName(code);
    if (failure?.problem === 'internal') log.error({ err }, 'unexpected error in a gRPC call');
    log.info(
      {
        protocol: 'grpc',
        operation: rpc,
        status: name,
        ...(failure?.problem === undefined ? {} : { problem: failure.problem }),
        durationMs: Math.round((performance.now() - started) * 100) / 100,
        ...(note.model ? { model: note.model.name, modelVersion: note.model.version } : {}),
        ...(note.prediction ? { prediction: note.prediction } : {}),
        ...(note.inferenceId ? { inferenceId: note.inferenceId } : {}),
        ...(note.requests === undefined ? {} : { requests: note.requests, failed: note.failed ?? 0 }),
        ...(span ? { traceId: span.traceId, spanId: span.spanId } : {}),
      },
      'rpc',
    );
    if (span) {
      span.span.setAttribute('rpc.grpc.status_code', code);
      if (note.model) span.span.setAttributes(modelAttributes(note.model));
      if (note.inferenceId) span.span.setAttribute('inference.id', note.inferenceId);
      if (failure?.problem !== undefined) span.span.setAttribute('problem.code', failure.problem);
      // As the conventions say for servers: these codes are the server's failures.
      span.end(SERVER_FAILURES.has(code) ? name : undefined);
    }
    deps.metrics.observeRpc(rpc, name, (performance.now() - started) / 1000);
    if (failure?.problem !== undefined) deps.metrics.countRejection(failure.problem);
  };
  const context: CallContext = {
    signal: controller.signal,
    log,
    note,
    client: clientOf(undefined, peerAddress(call.getPeer())),
    requestId,
    capture: metadataText(call.metadata, 'x-capture').toLowerCase() !== 'off',
  };
  /** Runs the call's work in its span (when tracing is on). */
  const run = <T>(work: () => T): T => (span ? span.run(work) : work());
  return { context, finish, cancelled: () => controller.signal.aborted, run };
}

/** The gRPC status codes that are the server's failures (UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE, DATA_LOSS). */
const SERVER_FAILURES = new Set([2, 4, 12, 13, 14, 15]);

/** Checks the call's token, in a span of its own when tracing is on. */
function authorizeCall(metadata: Metadata, rule: AccessRule, verifier: AccessTokenVerifier | undefined): Promise<Caller> {
  return tracingOn() ? inSpan('token check', () => authorize(metadata, rule, verifier)) : authorize(metadata, rule, verifier);
}

/** A unary handler: the answer, or a thrown error (a {@link ProblemError} says which status). */
export type UnaryHandler<Req, Res> = (request: Req, context: CallContext) => Promise<Res>;

/** Wraps `handler` as a grpc-js unary handler for `rpc`. */
export function unary<Req, Res>(deps: CallDeps, rpc: GuardedRpc, handler: UnaryHandler<Req, Res>) {
  return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>): void => {
    const { context, finish, cancelled, run } = begin(deps, rpc, call);
    run(() => authorizeCall(call.metadata, deps.rules[rpc], deps.verifier)
      .then((caller) => {
        identify(context, caller, call.getPeer());
        return handler(call.request, context);
      }))
      .then(
        (response) => {
          finish(0);
          callback(null, response);
        },
        (err: unknown) => {
          const failure = grpcFailure(err, cancelled());
          finish(failure.error.code, failure, err);
          callback(failure.error);
        },
      );
  };
}

/**
 * Wraps a streaming handler (server or bidirectional): authorised first, then `handler` runs
 * the stream and resolves when it has written its last message; the status follows.
 */
export function streaming<Call extends ServerWritableStream<unknown, unknown> | ServerDuplexStream<unknown, unknown>>(
  deps: CallDeps,
  rpc: GuardedRpc,
  handler: (call: Call, context: CallContext) => Promise<void>,
) {
  return (call: Call): void => {
    const { context, finish, cancelled, run } = begin(deps, rpc, call);
    run(() => authorizeCall(call.metadata, deps.rules[rpc], deps.verifier)
      .then((caller) => {
        identify(context, caller, call.getPeer());
        return handler(call, context);
      }))
      .then(
        () => {
          finish(0);
          if (!cancelled()) call.end();
        },
        (err: unknown) => {
          const failure = grpcFailure(err, cancelled());
          finish(failure.error.code, failure, err);
          // grpc-js's streams take their status from an 'error' event, then end.
          if (!cancelled()) call.emit('error', failure.error);
        },
      );
  };
}
