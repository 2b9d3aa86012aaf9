/**
 * What a load run measured, summed up the same way by every load generator (`load.ts` over HTTP,
 * `grpc-load.ts` over gRPC): request rate, latency quantiles, errors by kind, the generator's own
 * CPU per request.
 */
/** What one load run measured. */
export interface LoadResult {
  readonly concurrency: number;
  readonly durationS: number;
  readonly ok: number;
  readonly errors: number;
  /** Error kinds ("HTTP 503", "ECONNRESET", "timeout"…) and their counts. */
  readonly errorKinds: Record<string, number>;
  readonly rps: number;
  readonly p50Ms: number | null;
  readonly p90Ms: number | null;
  readonly p99Ms: number | null;
  readonly maxMs: number | null;
  /**
   * The load generator's own CPU per request (ms) over the measured requests: it runs on the
   * same cores as the server, which the bare pipeline does not have to share.
   */
  readonly clientCpuMsPerRequest: number | null;
  /** Images per request: 1 for uploads, N with `--v2-batch N`. */
  readonly imagesPerRequest: number;
  /** With `--timeline`: each measured request, `[start ms (since the Unix epoch), latency ms, error kind or "", model_version or ""]`. */
  readonly timeline?: readonly (readonly [number, number, string, string])[];
  /** Answers by `model_version` (`""`: none). */
  readonly versions: Record<string, number>;
}

/** What a load generator collected over its measured window. */
export interface LoadWindow {
  readonly concurrency: number;
  /** The window, in `performance.now()` milliseconds. */
  readonly startMs: number;
  readonly endMs: number;
  /** Latencies of the answered requests, in milliseconds (sorted here). */
  readonly latencies: number[];
  readonly errorKinds: Record<string, number>;
  /** The generator's CPU over the window (`process.cpuUsage(before)`). */
  readonly cpu: NodeJS.CpuUsage;
  readonly imagesPerRequest: number;
  readonly versions: Record<string, number>;
}

/** A tenth of a millisecond is as fine as the figures go. */
export function roundTenth(x: number): number {
  return Math.round(x * 10) / 10;
}

/** The {@link LoadResult} of `window` (without a timeline: the caller adds its own). */
export function loadResult(window: LoadWindow): LoadResult {
  const { latencies, errorKinds, cpu, startMs, endMs } = window;
  latencies.sort((a, b) => a - b);
  const quantile = (q: number): number | null =>
    latencies.length ? roundTenth(latencies[Math.min(latencies.length - 1, Math.ceil(q * latencies.length) - 1)]!) : null;
  const errors = Object.values(errorKinds).reduce((a, b) => a + b, 0);
  const seconds = (endMs - startMs) / 1000;
  return {
    concurrency: window.concurrency,
    durationS: roundTenth(seconds),
    ok: latencies.length,
    errors,
    errorKinds,
    rps: roundTenth(latencies.length / seconds),
    p50Ms: quantile(0.5),
    p90Ms: quantile(0.9),
    p99Ms: quantile(0.99),
    maxMs: latencies.length ? roundTenth(latencies.at(-1)!) : null,
    clientCpuMsPerRequest: latencies.length + errors ? Math.round(((cpu.user + cpu.system) / 1000 / (latencies.length + errors)) * 100) / 100 : null,
    imagesPerRequest: window.imagesPerRequest,
    versions: window.versions,
  };
}
