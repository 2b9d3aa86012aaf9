/**
 * What a load run measured, summed up the same way by every load generator (`load.ts` over HTTP,
 * `grpc-load.ts` over gRPC): request rate, latency quantiles, errors by kind, the generator's own
 * CPU per request.
 */
import type { LoadResult } from './load.js';

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
