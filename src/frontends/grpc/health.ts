/**
 * `grpc.health.v1.Health` (Check and Watch), what Kubernetes `grpc:` probes, `grpc_health_probe`
 * and load balancers call, served by grpc-health-check's implementation. Services:
 *
 * - `""` (the server) and `inference.GRPCInferenceService`: SERVING exactly when
 *   `GET /health/ready` answers 200 (warmed up, the default model READY, not draining);
 * - `liveness`: SERVING while the process answers, as `GET /health/live` (a liveness probe's);
 * - each model of the repository by its name (`catdog`): SERVING when the server is and a
 *   request naming the model would be served now; NOT_SERVING otherwise;
 * - any other name: Check answers NOT_FOUND, Watch SERVICE_UNKNOWN (the health protocol's words).
 *
 * Statuses are read again before each Check, every {@link HEALTH_REFRESH_MS} for the watchers
 * (which hear of a change only), and at once when draining starts.
 */
import { once } from 'node:events';
import type { sendUnaryData, ServerUnaryCall, ServerWritableStream, UntypedServiceImplementation } from '@grpc/grpc-js';
import { HealthImplementation, type ServingStatus } from 'grpc-health-check';
import type { HealthCheckRequest__Output } from '../../../generated/grpc/grpc/health/v1/HealthCheckRequest.js';
import type { HealthCheckResponse } from '../../../generated/grpc/grpc/health/v1/HealthCheckResponse.js';
import { ProblemError } from '../../errors.js';
import type { InferenceCore } from '../../inference/core.js';
import type { Readiness } from '../../lifecycle/readiness.js';
import type { IndexEntry } from '../../repository/types.js';
import { streaming, unary, type CallDeps } from './call.js';
import { INFERENCE_SERVICE } from './proto.js';

/** The service a liveness probe checks: SERVING as long as the process answers. */
export const LIVENESS_SERVICE = 'liveness';

/** How often the watched statuses are read again, in milliseconds. */
const HEALTH_REFRESH_MS = 1_000;

/** What the health service reads. */
export interface HealthDeps {
  readonly core: InferenceCore;
  readonly readiness: Readiness;
  readonly index: () => readonly IndexEntry[];
}

/** The health service: its handlers, and the refresh to call when the state may have changed. */
export interface HealthService {
  readonly handlers: UntypedServiceImplementation;
  /** Reads every status again; watchers hear of the changes. */
  refresh(): void;
  /** Stops the periodic refresh and ends the watches (with OK: the server is going away). */
  close(): void;
}

type HealthHandlers = {
  check: (call: ServerUnaryCall<HealthCheckRequest__Output, HealthCheckResponse>, callback: sendUnaryData<HealthCheckResponse>) => void;
  watch: (call: ServerWritableStream<HealthCheckRequest__Output, HealthCheckResponse>) => void;
};

/** Builds the health service. */
export function healthService(deps: HealthDeps, calls: CallDeps): HealthService {
  const implementation = new HealthImplementation();
  let library: HealthHandlers | undefined;
  // The library adds its handlers to a server; they are taken here and wrapped as every call is.
  implementation.addToServer({ addService: (_service: unknown, handlers: HealthHandlers) => void (library = handlers) } as never);
  const { check, watch } = library!;
  const known = new Map<string, ServingStatus>();

  const set = (service: string, status: ServingStatus): void => {
    if (known.get(service) === status) return;
    known.set(service, status);
    implementation.setStatus(service, status);
  };
  const refresh = (): void => {
    const serving = deps.readiness.state === 'ready';
    set('', serving ? 'SERVING' : 'NOT_SERVING');
    set(INFERENCE_SERVICE, serving ? 'SERVING' : 'NOT_SERVING');
    set(LIVENESS_SERVICE, 'SERVING');
    const models = new Set(deps.index().map((e) => e.name));
    for (const name of models) {
      let ready = serving;
      if (ready) {
        try {
          deps.core.describe({ name });
        } catch {
          ready = false;
        }
      }
      set(name, ready ? 'SERVING' : 'NOT_SERVING');
    }
    // A model gone from the repository is not served any more.
    for (const name of known.keys()) if (!['', INFERENCE_SERVICE, LIVENESS_SERVICE].includes(name) && !models.has(name)) set(name, 'NOT_SERVING');
  };
  refresh();
  const timer = setInterval(refresh, HEALTH_REFRESH_MS);
  timer.unref();
  const closing = new AbortController();

  return {
    handlers: {
      Check: unary(calls, 'Health.Check', (request: HealthCheckRequest__Output) => {
        refresh();
        return new Promise<HealthCheckResponse>((resolve, reject) =>
          check({ request } as ServerUnaryCall<HealthCheckRequest__Output, HealthCheckResponse>, (err, response) => {
            if (err) reject(new ProblemError('not-found', { detail: `No health status for the service "${request.service}"` }));
            else resolve(response!);
          }));
      }),
      Watch: streaming(calls, 'Health.Watch', async (call: ServerWritableStream<HealthCheckRequest__Output, HealthCheckResponse>) => {
        refresh();
        watch(call);
        // A watch lasts until the client cancels it, or the server drains (it ends then, so
        // that the drain need not wait for it).
        try {
          await once(call, 'cancelled', { signal: closing.signal });
        } catch (err) {
          if (closing.signal.aborted) return;
          throw err;
        }
        throw new Error('watch ended by the client');
      }),
    },
    refresh,
    close: () => {
      clearInterval(timer);
      closing.abort();
    },
  };
}
