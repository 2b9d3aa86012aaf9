/**
 * The service's spans: one server span per request or call (`src/http/tracing.ts`, the gRPC
 * front-end's call wrapper) and its stages as children (token check, body read, queue wait,
 * decode, inference, encode).
 *
 * Off by default, and then free: every helper here starts with one test of a module variable
 * that only `startTracing` (`setup.ts`) sets, and does nothing else, so no span, context or
 * attribute object is made. Spans of a stage measured elsewhere (the admission gate's wait, the
 * classifier's decode and inference timings) are recorded afterwards with their own start and
 * end times ({@link recordSpan}), so the layers below (`model/`) know nothing of tracing.
 *
 * ```ts
 * const read = await inSpan('body read', () => reader.read(ctx));
 * recordSpan('queue wait', queuedAt, startedAt, { 'model.name': 'catdog', 'model.version': '2' });
 * ```
 */
import { context, propagation, ROOT_CONTEXT, trace, SpanKind, SpanStatusCode, type Attributes, type Context, type Span, type Tracer } from '@opentelemetry/api';

let tracer: Tracer | undefined;

/** Called by `startTracing` (a tracer) and its shutdown (`undefined`). */
export function useTracer(next: Tracer | undefined): void {
  tracer = next;
}

/** Whether spans are made (`OTEL_*` asked for an exporter). */
export function tracingOn(): boolean {
  return tracer !== undefined;
}

/** The attributes of the version that answers, on every span that concerns it. */
export function modelAttributes(model: { readonly name: string; readonly version: string }): Attributes {
  return { 'model.name': model.name, 'model.version': model.version };
}

/** Ends `span` as failed by `err`. */
function fail(span: Span, err: unknown): void {
  span.recordException(err instanceof Error ? err : String(err));
  span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
}

/**
 * Runs `work` in a child span `name` of the active span, ended when it settles (marked as an
 * error when it throws); without tracing, just runs `work`.
 */
export function inSpan<T>(name: string, work: () => T | Promise<T>, attributes?: Attributes): Promise<T> {
  if (!tracer) {
    try {
      return Promise.resolve(work());
    } catch (err) {
      return Promise.reject(err);
    }
  }
  return tracer.startActiveSpan(name, attributes ? { attributes } : {}, async (span) => {
    try {
      return await work();
    } catch (err) {
      fail(span, err);
      throw err;
    } finally {
      span.end();
    }
  });
}

/** As {@link inSpan}, for synchronous work (an answer's encoding). */
export function inSyncSpan<T>(name: string, work: () => T, attributes?: Attributes): T {
  if (!tracer) return work();
  return tracer.startActiveSpan(name, attributes ? { attributes } : {}, (span) => {
    try {
      return work();
    } catch (err) {
      fail(span, err);
      throw err;
    } finally {
      span.end();
    }
  });
}

/** Epoch milliseconds of a `performance.now()` reading (the time input spans take). */
const epochMs = (now: number): number => performance.timeOrigin + now;

/**
 * Records a span `name` that ran from `startMs` to `endMs` (`performance.now()` readings), as a
 * child of the active span; without tracing, nothing.
 */
export function recordSpan(name: string, startMs: number, endMs: number, attributes?: Attributes): void {
  if (!tracer) return;
  const span = tracer.startSpan(name, { startTime: epochMs(startMs), ...(attributes ? { attributes } : {}) });
  span.end(epochMs(Math.max(startMs, endMs)));
}

/** A server span and the context its children run in. */
export interface ServerSpan {
  readonly span: Span;
  /** Runs `work` with the server span active: the stages' spans become its children. */
  run<T>(work: () => T): T;
  /** The ids the request log carries. */
  readonly traceId: string;
  readonly spanId: string;
  /** Ends the span: `error` marks it failed (a 5xx, a gRPC failure). */
  end(error?: string): void;
}

/**
 * Starts the server span of a request or call whose propagated parent is `parent` (the incoming
 * `traceparent`, extracted by the caller), or `undefined` without tracing.
 */
export function startServerSpan(name: string, parent: Context, attributes: Attributes): ServerSpan | undefined {
  if (!tracer) return undefined;
  const span = tracer.startSpan(name, { kind: SpanKind.SERVER, attributes }, parent);
  const active = trace.setSpan(parent, span);
  const { traceId, spanId } = span.spanContext();
  return {
    span,
    traceId,
    spanId,
    run: (work) => context.with(active, work),
    end: (error) => {
      if (error !== undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: error });
      span.end();
    },
  };
}

/**
 * The parent a request continues: its W3C `traceparent` (and `tracestate`), read from `carrier`
 * (REST headers, or gRPC metadata as text); the root context when it has none or a malformed one.
 */
export function incomingParent(carrier: Readonly<Record<string, string | undefined>>): Context {
  return propagation.extract(ROOT_CONTEXT, carrier);
}
