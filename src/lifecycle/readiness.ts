/**
 * Whether the service takes traffic: the state behind `GET /health/ready`.
 *
 * ```ts
 * const readiness = createReadiness('warming-up', modelHealth, () => verifier.keysFetched());
 * await warmUp(classifier); readiness.markWarmedUp();   // 'ready' (once the issuer's keys are in)
 * readiness.startDraining();             // 'draining', for good
 * ```
 */

import type { RepositoryHealth } from '../repository/types.js';

/**
 * `warming-up` until one inference has run; `draining` from the stop signal to the exit; once
 * warmed up, the default model's side ({@link RepositoryHealth}): `loading` before its first
 * version is ready, `unavailable` while it has no READY version, `recovering` while a crashed
 * inference worker is replaced, `failed` once the model's engine gave up (see
 * src/model/engine/worker-pool.ts); then `awaiting-issuer` until the token issuer's keys have
 * been fetched once ({@link IssuerReached}).
 */
export type ReadinessState = 'warming-up' | 'ready' | 'draining' | 'awaiting-issuer' | Exclude<RepositoryHealth, 'ok'>;

/** Why the service is not ready, by state (`GET /health/ready` and `GET /v2/health/ready` say the same). */
export const notReadyReasons: Readonly<Record<Exclude<ReadinessState, 'ready'>, string>> = Object.freeze({
  'warming-up': 'The model is warming up',
  draining: 'The service is shutting down',
  recovering: 'A crashed inference worker is being replaced',
  failed: 'The inference workers keep crashing; the process is stopping',
  loading: 'The default model is loading',
  unavailable: 'The default model has no version ready to serve',
  'awaiting-issuer': 'The token issuer has not been reached yet: access tokens cannot be verified',
});

/** The model's side of readiness, as the model repository reports it. */
export type ModelHealth = () => RepositoryHealth;

/**
 * The token issuer's side of readiness: whether its keys have been fetched since start-up
 * (always true without auth). Only the first time counts. A process that has never had the keys
 * can verify no token, and the replicas that have them should get the traffic; one that had them
 * keeps them through an outage (stale-if-error), and taking every replica out of the load
 * balancer at once because their shared issuer is down would refuse every request, public ones
 * and tokens whose keys are cached included.
 */
export type IssuerReached = () => boolean;

/** The readiness of one process; `main.ts` moves it forward, the probes and metrics read it. */
export interface Readiness {
  readonly state: ReadinessState;
  /** The model is loaded and one warm-up inference has run. Ignored once draining. */
  markWarmedUp(): void;
  /** The process was asked to stop: not ready any more, and never again. */
  startDraining(): void;
}

/**
 * A readiness that starts `warming-up`, or `ready` when `initial` says so (tests); once warmed
 * up, `modelHealth` can still make it `recovering` or `failed`, and `issuerReached` keeps it
 * `awaiting-issuer` until the issuer's keys are in.
 */
export function createReadiness(
  initial: 'warming-up' | 'ready' = 'warming-up',
  modelHealth: ModelHealth = () => 'ok',
  issuerReached: IssuerReached = () => true,
): Readiness {
  let state: 'warming-up' | 'ready' | 'draining' = initial;
  return {
    get state() {
      if (state !== 'ready') return state;
      const health = modelHealth();
      if (health !== 'ok') return health;
      return issuerReached() ? 'ready' : 'awaiting-issuer';
    },
    markWarmedUp() {
      if (state === 'warming-up') state = 'ready';
    },
    startDraining() {
      state = 'draining';
    },
  };
}
