/**
 * Issue 22, item 4, "one client starves everyone": greedy clients with valid tokens, each within
 * the connection budget, against a client uploading cat.png every 0.2 s (each upload after the
 * previous answer). Three scenarios, each against a fresh service with auth on (against `make
 * dev`'s identity provider), each client a token of its own (all from 127.0.0.1: they are told
 * apart by their token's subject):
 *
 * - `batch-flood`: one client sends Open Inference Protocol requests of 64 images (binary) back
 *   to back on 4 connections;
 * - `explain-flood`: one client sends `POST /explain` back to back on 8 connections, ignoring
 *   `Retry-After`; then the same honouring it;
 * - `fair-share`: both at once; then again with a rate limit set to a client's share of the
 *   machine (40 images per second) instead of the defaults.
 *
 * Phases alone and under attack alternate (`ROUNDS` of each, `PHASE_MS` each; `ATTACK_ROUNDS` and
 * `ATTACK_PHASE_MS` in the environment change them), so that a change of the machine's load
 * touches both; the figures are the uploads' p50 and answers per second under attack over alone,
 * what the greedy clients got, and the peak resident memory.
 *
 * `test/system/fair-share.test.ts` replays the `fair-share` scenario with generous bounds.
 */
import http from 'node:http';
import { loadavg } from 'node:os';
import { startIdentityProvider, type ClientId, type IdentityProvider } from '../../test/fixtures/identity-provider.js';
import { sampleResidentMemory, spawnService, type SpawnedService } from '../../test/support/process.js';
import { uploadBody, type Outcome } from './from-address.js';
import { startFloodProcess, type FloodOptions, type FloodProcess, type FloodStats } from './flood.js';
import { catImage, describe, summarise, type Scenario, type Summary } from './scenario.js';

/** Alternations of a phase alone and a phase under attack. */
const ROUNDS = Number(process.env.ATTACK_ROUNDS ?? 3);
const PHASE_MS = Number(process.env.ATTACK_PHASE_MS ?? 10_000);
/** The uploading client's period: one upload every 0.2 s, each after the previous answer. */
const PERIOD_MS = 200;
/** Time the attack runs before the uploads under it are measured. */
const RAMP_MS = 1_000;
const MiB = 1024 * 1024;

/** Who is who: the token each client holds. */
const clients = { uploads: 'prediction-client', batches: 'scp-client', explanations: 'permissions-client' } as const satisfies Record<string, ClientId>;

/** A greedy client of a scenario, without the service's address and token. */
export type Attack = Omit<FloodOptions, 'url' | 'token'> & { readonly client: ClientId };

/** The issue's attackers. */
export const batchFlood: Attack = { client: clients.batches, kind: 'batch', connections: 4, images: 64 };
export const explainFlood: Attack = { client: clients.explanations, kind: 'explain', connections: 8 };

/** The service with auth on, and the identity provider's tokens. */
export interface FairShareService {
  readonly service: SpawnedService;
  readonly token: (client: ClientId) => Promise<string>;
}

/** Spawns the service against `idp` with `env` on top. */
export async function startFairShareService(idp: IdentityProvider, env: Readonly<Record<string, string>> = {}): Promise<FairShareService> {
  const service = await spawnService({ AUTH_DISABLED: 'false', OAUTH2_ISSUER: idp.issuer, OAUTH2_AUDIENCE: idp.audience, ...env });
  const tokens = new Map<ClientId, Promise<string>>();
  const token = (client: ClientId): Promise<string> => {
    if (!tokens.has(client)) tokens.set(client, idp.token(client));
    return tokens.get(client)!;
  };
  // The first request fetches the issuer's keys; on a busy machine that can time out, and the
  // service then answers auth-unavailable until OAUTH2_JWKS_COOLDOWN_MS has passed.
  const until = performance.now() + 90_000;
  for (;;) {
    const [first] = await uploadEvery(service.url, await token(clients.uploads), 0, 1);
    if (first?.status === 200) break;
    if (performance.now() > until) {
      await service.stop();
      throw new Error(`the service never classified cat.png: ${JSON.stringify(first)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
  return { service, token };
}

/** Uploads cat.png every `periodMs` (each after the previous answer) on one keep-alive connection, for `durationMs`. */
export async function uploadEvery(url: string, token: string, periodMs: number, durationMs: number): Promise<Outcome[]> {
  const { body, contentType } = uploadBody(await catImage());
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const outcomes: Outcome[] = [];
  const end = performance.now() + durationMs;
  try {
    while (performance.now() < end) {
      const next = new Promise((resolve) => setTimeout(resolve, periodMs));
      outcomes.push(await new Promise<Outcome>((resolve) => {
        const started = performance.now();
        const req = http.request(`${url}/upload`, {
          method: 'POST',
          agent,
          headers: { 'content-type': contentType, 'content-length': String(body.length), authorization: `Bearer ${token}` },
          timeout: 30_000,
        });
        req.on('response', (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (d: Buffer) => chunks.push(d));
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            const code = status === 200 ? undefined : (/"code":"([^"]+)"/.exec(Buffer.concat(chunks).toString())?.[1] ?? 'none');
            resolve({ status, ms: performance.now() - started, ...(code === undefined ? {} : { error: code }) });
          });
        });
        req.on('timeout', () => req.destroy(new Error('timeout')));
        req.on('error', (err: NodeJS.ErrnoException) => resolve({ status: 0, ms: performance.now() - started, error: err.code ?? err.message }));
        req.end(body);
      }));
      await next;
    }
  } finally {
    agent.destroy();
  }
  return outcomes;
}

/** The uploads of a phase and what they amount to. */
export interface PhaseResult {
  readonly uploads: readonly Outcome[];
  readonly summary: Summary;
  /** 200 answers per second. */
  readonly perSecond: number;
  /** The refusals and failures, by problem code or error. */
  readonly problems: Readonly<Record<string, number>>;
}

function phaseResult(uploads: readonly Outcome[], durationMs: number): PhaseResult {
  const problems: Record<string, number> = {};
  for (const { error } of uploads) if (error !== undefined) problems[error] = (problems[error] ?? 0) + 1;
  return { uploads, summary: summarise(uploads), perSecond: uploads.filter((o) => o.status === 200).length / (durationMs / 1000), problems };
}

const line = (r: PhaseResult): string =>
  `${describe(r.summary)}, ${r.perSecond.toFixed(2)}/s${Object.keys(r.problems).length > 0 ? ` ${JSON.stringify(r.problems)}` : ''}`;

/** One phase alone, then one under `attacks`; the attackers' counts and the peak memory of the latter. */
export async function measureRound(
  running: FairShareService,
  attacks: readonly Attack[],
  phaseMs: number,
): Promise<{ alone: PhaseResult; attacked: PhaseResult; floods: FloodStats[]; peakResidentMiB: number }> {
  const url = running.service.url;
  const token = await running.token(clients.uploads);
  const alone = phaseResult(await uploadEvery(url, token, PERIOD_MS, phaseMs), phaseMs);
  const memory = sampleResidentMemory(running.service.child.pid!, 100);
  const floods: FloodProcess[] = [];
  try {
    for (const { client, ...attack } of attacks) floods.push(await startFloodProcess({ ...attack, url, token: await running.token(client) }));
    await new Promise((resolve) => setTimeout(resolve, RAMP_MS));
    const attacked = phaseResult(await uploadEvery(url, token, PERIOD_MS, phaseMs), phaseMs);
    return { alone, attacked, floods: await Promise.all(floods.map((f) => f.stop())), peakResidentMiB: Math.round(memory.stop().peakBytes / MiB) };
  } catch (err) {
    await Promise.allSettled(floods.map((f) => f.stop()));
    throw err;
  }
}

function floodLine(attack: Attack, stats: FloodStats): string {
  const perSecond = (n: number): string => (n / (stats.durationMs / 1000)).toFixed(1);
  return `${attack.kind} x${attack.connections}${attack.honourRetryAfter ? ' (honours Retry-After)' : ''}: ${stats.requests} requests ${JSON.stringify(stats.answers)}`
    + `, ${perSecond(stats.requests)} req/s, ${perSecond(stats.imagesServed)} images/s served, ${stats.bad5xx} other 5xx, ${stats.failed} unanswered ${JSON.stringify(stats.errors)}`;
}

const ratio = (a: number, b: number): number => Math.round((a / b) * 100) / 100;

/** Runs `ROUNDS` alternations with `attacks` against a fresh service with `env`. */
async function runScenario(attacks: readonly Attack[], env: Readonly<Record<string, string>>, say: (line: string) => void): Promise<Record<string, unknown>> {
  const [idp] = await Promise.all([startIdentityProvider()]);
  try {
    const running = await startFairShareService(idp, env);
    try {
      // Warm-up: the first uploads of a fresh process are slower.
      await uploadEvery(running.service.url, await running.token(clients.uploads), 0, 2_000);
      const rounds = [];
      for (let round = 1; round <= ROUNDS; round++) {
        const load = loadavg()[0]!.toFixed(1);
        const r = await measureRound(running, attacks, PHASE_MS);
        say(`round ${round} (load average ${load}): alone ${line(r.alone)}`);
        say(`          under attack ${line(r.attacked)}`);
        say(`          p50 x${ratio(r.attacked.summary.p50Ms, r.alone.summary.p50Ms)}, answers/s x${ratio(r.attacked.perSecond, r.alone.perSecond)}; peak resident ${r.peakResidentMiB} MiB`);
        r.floods.forEach((stats, i) => say(`          ${floodLine(attacks[i]!, stats)}`));
        rounds.push({
          loadAverage: Number(load),
          alone: { ...r.alone.summary, perSecond: r.alone.perSecond, problems: r.alone.problems },
          attacked: { ...r.attacked.summary, perSecond: r.attacked.perSecond, problems: r.attacked.problems },
          p50Ratio: ratio(r.attacked.summary.p50Ms, r.alone.summary.p50Ms),
          throughputRatio: ratio(r.attacked.perSecond, r.alone.perSecond),
          floods: r.floods,
          peakResidentMiB: r.peakResidentMiB,
        });
      }
      const p50s = rounds.map((r) => r.p50Ratio).sort((a, b) => a - b);
      const throughputs = rounds.map((r) => r.throughputRatio).sort((a, b) => a - b);
      say(`p50 ratio ${p50s.join(', ')}; answers/s ratio ${throughputs.join(', ')}; load average now ${loadavg()[0]!.toFixed(1)}`);
      return { env, rounds, p50Ratios: p50s, throughputRatios: throughputs };
    } finally {
      await running.service.stop();
    }
  } finally {
    await idp.close();
  }
}

function scenario(name: string, summary: string, variants: readonly { label: string; attacks: readonly Attack[]; env?: Record<string, string> }[]): Scenario {
  return {
    name,
    summary,
    async run(say) {
      const figures: Record<string, unknown> = {};
      for (const { label, attacks, env } of variants) {
        say(label);
        figures[label] = await runScenario(attacks, env ?? {}, (line) => say(`  ${line}`));
      }
      return figures;
    },
  };
}

const uploads = `cat.png every ${PERIOD_MS / 1000} s, ${ROUNDS} rounds of ${PHASE_MS / 1000} s alone and ${PHASE_MS / 1000} s under attack`;

export const batchFloodScenario = scenario('batch-flood', `one client sends 64-image V2 batches on 4 connections; ${uploads}`, [
  { label: 'defaults', attacks: [batchFlood] },
]);

export const explainFloodScenario = scenario('explain-flood', `one client sends /explain on 8 connections; ${uploads}`, [
  { label: 'ignoring Retry-After', attacks: [explainFlood] },
  { label: 'honouring Retry-After', attacks: [{ ...explainFlood, honourRetryAfter: true }] },
]);

/** A rate limit set to a client's share of the 2-core machine, rather than the defaults' (above what one client can get). */
const sharedRateLimit = { RATE_LIMIT_IMAGES_PER_SECOND: '40', RATE_LIMIT_BURST_IMAGES: '128' };

export const fairShareScenario = scenario('fair-share', `64-image batches on 4 connections and /explain on 8 ignoring Retry-After, from two clients; ${uploads}`, [
  { label: 'defaults', attacks: [batchFlood, explainFlood] },
  { label: Object.entries(sharedRateLimit).map(([k, v]) => `${k}=${v}`).join(' '), attacks: [batchFlood, explainFlood], env: sharedRateLimit },
]);
