/**
 * Issue 17, failure 1: 300 uploads held open from 127.0.0.2 at 1 KB/s, every other one with a
 * valid token (its body is read until the minimum body rate cuts it), the others without
 * (answered 401 at once, their connections closed), each coming back 1 s after it ended, from a
 * process of its own; meanwhile a legitimate client on 127.0.0.1 uploads cat.png every 0.4 s on a
 * new connection with its token, and a probe on 127.0.0.3 asks /health, /health/live and
 * /health/ready in turn every second. Figures, against a real identity provider: the client's and
 * the probe's latency and statuses without and with the attack, with the defaults and with
 * deploy/'s memory settings (MAX_CONNECTIONS=24); what the attacker's connections got; the peak
 * resident memory; and, for comparison, the attack on deploy/'s settings with the budget's guards
 * turned off (one address may take every slot, no reserve, no body rate).
 *
 * `test/system/slow-clients.test.ts` replays it with the issue's bound (every legitimate
 * request answered within 2 s).
 */
import { startIdentityProvider, type IdentityProvider } from '../../test/fixtures/identity-provider.js';
import { deployMemory } from '../../test/support/deploy.js';
import { sampleResidentMemory, spawnService, type SpawnedService } from '../../test/support/process.js';
import { send, uploadBody, type Outcome } from './from-address.js';
import { catImage, describe, summarise, type Scenario, type Summary } from './scenario.js';
import { startSlowUploadsProcess, type SlowUploadOptions, type SlowUploadStats } from './slow-uploads.js';

/** The attack as the issue describes it. */
export const slowUploadAttack = {
  connections: 300,
  localAddress: '127.0.0.2',
  bytesPerSecond: 1024,
  reconnectDelayMs: 1_000,
} as const;

/** Source addresses of the legitimate client and of the probe. */
export const legitimateAddress = '127.0.0.1';
export const probeAddress = '127.0.0.3';

const PHASE_MS = 20_000;
const MiB = 1024 * 1024;

/** The service with auth enabled against `idp`, and a token for the legitimate client. */
export interface ProtectedService {
  readonly service: SpawnedService;
  readonly token: string;
}

/** Spawns the service (`src/main.ts`) configured against `idp`, with `env` on top. */
export async function startProtectedService(idp: IdentityProvider, env: Readonly<Record<string, string>>): Promise<ProtectedService> {
  const service = await spawnService({ AUTH_DISABLED: 'false', OAUTH2_ISSUER: idp.issuer, OAUTH2_AUDIENCE: idp.audience, ...env });
  return { service, token: await idp.token() };
}

/** What one phase measured. */
export interface PhaseFigures {
  /** Every legitimate upload, in order. */
  readonly uploads: readonly Outcome[];
  /** Every probe, in order. */
  readonly probes: readonly Outcome[];
  /** What the attacker's connections got; absent without an attack. */
  readonly attacker?: SlowUploadStats;
  readonly peakResidentMiB: number;
}

/** Options of one phase. */
export interface PhaseOptions {
  readonly durationMs: number;
  readonly image: Buffer;
  /** The attack to run meanwhile, if any. */
  readonly attack?: Omit<SlowUploadOptions, 'url' | 'token' | 'tokenEvery'>;
}

/** Starts `request` every `intervalMs` for `durationMs`, whether or not the previous one was answered. */
async function everyInterval(intervalMs: number, durationMs: number, request: () => Promise<Outcome>): Promise<Outcome[]> {
  const pending: Promise<Outcome>[] = [];
  const end = performance.now() + durationMs;
  for (let next = performance.now(); next < end; next += intervalMs) {
    const wait = next - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    pending.push(request());
  }
  return Promise.all(pending);
}

/** Runs the legitimate client and the probe for `durationMs`, under the attack if given. */
export async function measurePhase({ service, token }: ProtectedService, options: PhaseOptions): Promise<PhaseFigures> {
  const { body, contentType } = uploadBody(options.image);
  const memory = sampleResidentMemory(service.child.pid!, 100);
  const attack = options.attack
    ? await startSlowUploadsProcess({ ...options.attack, url: service.url, token, tokenEvery: 2 })
    : undefined;
  const probePaths = ['/health', '/health/live', '/health/ready'];
  let probeCount = 0;
  const [uploads, probes] = await Promise.all([
    everyInterval(400, options.durationMs, () =>
      send(`${service.url}/upload`, {
        method: 'POST',
        headers: { 'content-type': contentType, authorization: `Bearer ${token}` },
        body,
        localAddress: legitimateAddress,
      })),
    everyInterval(1_000, options.durationMs, () =>
      send(`${service.url}${probePaths[probeCount++ % probePaths.length]}`, { localAddress: probeAddress })),
  ]);
  const attacker = await attack?.stop();
  return { uploads, probes, ...(attacker ? { attacker } : {}), peakResidentMiB: Math.round(memory.stop().peakBytes / MiB) };
}

function attackerLine(stats: SlowUploadStats): string {
  return `attacker: ${stats.opened} connections, answers ${JSON.stringify(stats.answers)}, ${stats.unanswered} closed unanswered`;
}

/** A setting compared, and whether it has a phase without the attack. */
interface Setting {
  readonly label: string;
  readonly env: Readonly<Record<string, string>>;
  readonly calm: boolean;
}

/** The defaults; deploy/'s memory settings; the latter with the budget's guards turned off. */
async function settings(): Promise<Setting[]> {
  const pod = (await deployMemory()).env;
  const deployed = Object.entries(pod).map(([k, v]) => `${k}=${v}`).join(' ');
  return [
    { label: 'defaults (MAX_CONNECTIONS=64)', env: {}, calm: true },
    { label: `deploy/ (${deployed})`, env: pod, calm: true },
    {
      label: `deploy/ with the guards off (MAX_CONNECTIONS_PER_ADDRESS=${pod.MAX_CONNECTIONS} CONNECTION_RESERVE=0 MIN_BODY_RATE_BYTES_PER_SECOND=1)`,
      env: { ...pod, MAX_CONNECTIONS_PER_ADDRESS: pod.MAX_CONNECTIONS ?? '64', CONNECTION_RESERVE: '0', MIN_BODY_RATE_BYTES_PER_SECOND: '1' },
      calm: false,
    },
  ];
}

export const slowClients: Scenario = {
  name: 'slow-clients',
  summary: `${slowUploadAttack.connections} uploads at ${slowUploadAttack.bytesPerSecond} B/s from ${slowUploadAttack.localAddress}, cat.png every 0.4 s from ${legitimateAddress}, probes from ${probeAddress}`,
  async run(say) {
    const [idp, image] = await Promise.all([startIdentityProvider(), catImage()]);
    const figures: Record<string, unknown> = {};
    try {
      for (const { label, env, calm } of await settings()) {
        say(label);
        const running = await startProtectedService(idp, env);
        try {
          const result: Record<string, Summary | SlowUploadStats | number> = {};
          if (calm) {
            const alone = await measurePhase(running, { durationMs: PHASE_MS, image });
            result.uploadsAlone = summarise(alone.uploads);
            result.probesAlone = summarise(alone.probes);
            say(`  without the attack: uploads ${describe(result.uploadsAlone)}`);
            say(`                      probes  ${describe(result.probesAlone)}`);
          }
          const attacked = await measurePhase(running, { durationMs: PHASE_MS, image, attack: slowUploadAttack });
          result.uploadsAttacked = summarise(attacked.uploads);
          result.probesAttacked = summarise(attacked.probes);
          result.attacker = attacked.attacker!;
          result.peakResidentMiB = attacked.peakResidentMiB;
          say(`  under the attack:   uploads ${describe(result.uploadsAttacked)}`);
          say(`                      probes  ${describe(result.probesAttacked)}`);
          say(`                      ${attackerLine(attacked.attacker!)}; peak resident ${attacked.peakResidentMiB} MiB`);
          figures[label] = { env, ...result };
        } finally {
          await running.service.stop();
        }
      }
    } finally {
      await idp.close();
    }
    return figures;
  },
};
