/**
 * Starts the OpenTelemetry SDK for the service's own spans (`tracer.ts`), when the `OTEL_*`
 * settings ask for it: a tracer provider with the configured sampler and `service.name`, a batch
 * span processor exporting OTLP over HTTP (protobuf or JSON) or to the console, W3C trace context
 * propagation, and an AsyncLocalStorage context manager so that a request's stages find its span.
 * No instrumentation patches any library: the spans are the ones this service makes.
 *
 * Off (the default), it registers nothing, and the helpers of `tracer.ts` do nothing.
 */
import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter as OtlpJsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as OtlpProtobufExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ConsoleSpanExporter,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  TracerProvider,
  type Sampler,
  type SpanExporter,
} from '@opentelemetry/sdk-trace';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import type { SamplerName, TracingOn, TracingSettings } from './settings.js';
import { useTracer } from './tracer.js';

/** The instrumentation scope of the service's spans. */
const SCOPE = 'catdog-classifier';

/** Tracing started: flush and stop it at shutdown. */
export interface Tracing {
  /** Exports the spans still buffered (within the export timeout), then stops the SDK. */
  shutdown(): Promise<void>;
}

/** The sampler `OTEL_TRACES_SAMPLER` names. */
function samplerOf(name: SamplerName, ratio: number): Sampler {
  switch (name) {
    case 'always_on': return new AlwaysOnSampler();
    case 'always_off': return new AlwaysOffSampler();
    case 'traceidratio': return new TraceIdRatioBasedSampler(ratio);
    case 'parentbased_always_on': return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case 'parentbased_always_off': return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio': return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) });
  }
}

/** The exporter the settings name. */
function exporterOf(settings: TracingOn): SpanExporter {
  if (settings.exporter === 'console') return new ConsoleSpanExporter();
  const options = { url: settings.url, headers: { ...settings.headers }, timeoutMillis: settings.exportTimeoutMs };
  return settings.protocol === 'http/json' ? new OtlpJsonExporter(options) : new OtlpProtobufExporter(options);
}

/**
 * Starts tracing when `settings` turn it on; `undefined` otherwise (nothing registered).
 *
 * @param serviceVersion - the resource's `service.version` (the package's version).
 */
export function startTracing(settings: TracingSettings, serviceVersion: string): Tracing | undefined {
  if (!settings.enabled) return undefined;
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: settings.serviceName, [ATTR_SERVICE_VERSION]: serviceVersion }),
    sampler: samplerOf(settings.sampler, settings.samplerRatio),
    spanProcessors: [new BatchSpanProcessor({ exporter: exporterOf(settings) })],
  });
  const contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  useTracer(provider.getTracer(SCOPE, serviceVersion));
  return {
    async shutdown() {
      useTracer(undefined);
      await provider.shutdown();
      contextManager.disable();
    },
  };
}
