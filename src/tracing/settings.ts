/**
 * What the `OTEL_*` variables decide (`src/config/`), as `startTracing` (`setup.ts`) takes it.
 * Tracing is off unless an exporter is asked for: an OTLP endpoint, or `OTEL_TRACES_EXPORTER`.
 */

/** The OTLP/HTTP encodings the service can export in (`OTEL_EXPORTER_OTLP_PROTOCOL`). */
export type OtlpProtocol = 'http/protobuf' | 'http/json';

/** The samplers of `OTEL_TRACES_SAMPLER`, as the OpenTelemetry specification names them. */
export type SamplerName =
  | 'always_on'
  | 'always_off'
  | 'traceidratio'
  | 'parentbased_always_on'
  | 'parentbased_always_off'
  | 'parentbased_traceidratio';

/** Tracing on: where the spans go and which are kept. */
export interface TracingOn {
  readonly enabled: true;
  /** `otlp`: OTLP over HTTP to {@link TracingOn.url}; `console`: one line per span on stdout (debugging). */
  readonly exporter: 'otlp' | 'console';
  /** The traces endpoint, with its path (`http://collector:4318/v1/traces`). */
  readonly url: string;
  readonly protocol: OtlpProtocol;
  /** Headers sent with every export (`OTEL_EXPORTER_OTLP_HEADERS`); never logged. */
  readonly headers: Readonly<Record<string, string>>;
  /** Longest time one export may take, in milliseconds. */
  readonly exportTimeoutMs: number;
  /** The resource's `service.name`. */
  readonly serviceName: string;
  readonly sampler: SamplerName;
  /** The ratio of the `*traceidratio` samplers, 0 to 1. */
  readonly samplerRatio: number;
}

/** The `OTEL_*` settings: tracing off (the default), or on. */
export type TracingSettings = { readonly enabled: false } | TracingOn;
