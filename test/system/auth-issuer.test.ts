/**
 * Issue 22, items 1 and 2, on the real process (`src/main.ts`) against the real identity
 * provider, stopped and started on the same port:
 *
 * - started while the issuer is down (a cold `make run` whose provider is still starting), the
 *   service retries on its own with a short back-off, is not ready until it has the keys (and
 *   says why), logs one line when it fails and one when the issuer is reached, and serves tokens
 *   as soon as it is ready;
 * - once it has the keys, an issuer outage longer than their maximum age does not refuse the
 *   tokens it can verify (stale-if-error), and the log says when the issuer fails and when it is
 *   back.
 *
 * The waits are short settings (a 200 ms back-off, a 2 s cooldown, a 500 ms maximum age), so
 * that the test does not sleep through the defaults; the defaults' schedule is unit-tested
 * (test/unit/auth/retry-schedule.test.ts, key-set.test.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { expect } from 'chai';
import { rootDir } from '../../src/spec.js';
import { startIdentityProvider, type IdentityProvider } from '../fixtures/identity-provider.js';
import { solidImage, uploadForm } from '../fixtures/images.js';
import { buildImagenetLikeModel, imagenetLikeManifest } from '../fixtures/onnx-models.js';
import { writeFixtureModel } from '../support/service.js';
import { waitFor } from '../support/wait.js';

/** One pino line. */
interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly [field: string]: unknown;
}

function isLogLine(value: unknown): value is LogLine {
  return typeof value === 'object' && value !== null && typeof (value as Partial<LogLine>).msg === 'string';
}

/** The service as a child process, read line by line. */
interface Service {
  readonly child: ChildProcess;
  /** The lines logged so far, parsed (the others, such as a stack, are skipped). */
  lines(): LogLine[];
  /** The first line whose message starts with `msg`, once logged. */
  line(msg: string, timeoutMs?: number): Promise<LogLine>;
  url(): string;
  stop(): Promise<void>;
}

/** Starts `src/main.ts` with `env`, without waiting for it to be ready. */
function startProcess(env: Record<string, string>): Service {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: rootDir,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const lines = (): LogLine[] =>
    out.split('\n').flatMap((text) => {
      try {
        const parsed: unknown = JSON.parse(text);
        return isLogLine(parsed) ? [parsed] : [];
      } catch {
        return [];
      }
    });
  const find = (msg: string) => lines().find((l) => l.msg.startsWith(msg));
  return {
    child,
    lines,
    async line(msg, timeoutMs = 60_000) {
      await waitFor(() => find(msg) !== undefined || child.exitCode !== null, `"${msg}" in the log`, { timeoutMs, intervalMs: 50 });
      const found = find(msg);
      if (!found) throw new Error(`exited before logging "${msg}":\n${out}`);
      return found;
    },
    url() {
      const listening = find('listening');
      if (!listening) throw new Error('not listening yet');
      return `http://127.0.0.1:${String(listening.port)}`;
    },
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

describe('the token issuer down at start-up and after it (issue 22)', function () {
  this.timeout(180_000);
  let idp: IdentityProvider;
  let model: { manifestPath: string; dir: string };
  let service: Service | undefined;
  let form: () => FormData;

  before(async () => {
    model = await writeFixtureModel({ bytes: buildImagenetLikeModel(), manifest: imagenetLikeManifest });
    const image = await solidImage('red');
    form = () => uploadForm(image);
  });
  beforeEach(async () => {
    idp = await startIdentityProvider();
  });
  afterEach(async () => {
    await service?.stop();
    service = undefined;
    await idp.close();
  });
  after(() => rm(model.dir, { recursive: true, force: true }));

  const settings = (): Record<string, string> => ({
    AUTH_DISABLED: 'false',
    OAUTH2_ISSUER: idp.issuer,
    OAUTH2_AUDIENCE: idp.audience,
    MODEL_MANIFEST: model.manifestPath,
    OAUTH2_RETRY_BACKOFF_MS: '200',
    OAUTH2_JWKS_COOLDOWN_MS: '2000',
  });
  const upload = async (svc: Service, token: string): Promise<{ status: number; text: string }> => {
    const res = await fetch(`${svc.url()}/upload`, { method: 'POST', body: form(), headers: { authorization: `Bearer ${token}` } });
    return { status: res.status, text: await res.text() };
  };

  it('starts with the issuer down: retries on its own, not ready until it has the keys, then serves tokens at once', async () => {
    await idp.stop();
    const svc = (service = startProcess(settings()));

    const failed = await svc.line('token issuer unreachable');
    expect(failed).to.include({ level: 40, issuer: idp.issuer });
    // The wait left until the retry when the line is written: the back-off's first step, less what has passed since.
    expect(failed.retryInMs).to.be.within(100, 200);
    expect(String(failed.reason)).to.match(/discovery of .* failed/);

    // The model is ready before the issuer: the process says what it waits for, and so does readiness.
    await svc.line('models ready; waiting for the token issuer');
    const ready = await fetch(`${svc.url()}/health/ready`);
    expect(ready.status).to.equal(503);
    expect(await ready.json()).to.include({ code: 'not-ready', detail: 'The token issuer has not been reached yet: access tokens cannot be verified' });
    expect(svc.lines().some((l) => l.msg === 'ready')).to.equal(false);

    // Back: found by the process's own retries (no request asked), within the 2 s cooldown's
    // back-off, and said once; then ready, and a token is served, not 503.
    await idp.start();
    const reached = await svc.line('token issuer reachable again');
    expect(reached).to.include({ level: 30, issuer: idp.issuer });
    expect(reached.unreachableForMs).to.be.a('number').and.above(0);
    await svc.line('ready');
    expect((await fetch(`${svc.url()}/health/ready`)).status).to.equal(200);
    const answered = await upload(svc, await idp.token());
    expect(answered.status, answered.text).to.equal(200);
    // One line per change, however many attempts failed in between.
    expect(svc.lines().filter((l) => l.msg.startsWith('token issuer unreachable'))).to.have.length(1);
    expect(svc.lines().filter((l) => l.msg.startsWith('token issuer reachable again'))).to.have.length(1);
  });

  it('keeps verifying with the keys it has through an outage longer than their maximum age, and logs the outage and the recovery', async () => {
    const svc = (service = startProcess({ ...settings(), OAUTH2_JWKS_CACHE_MAX_AGE_MS: '500' }));
    await svc.line('ready');
    expect((await svc.line('token issuer keys fetched')).level).to.equal(30);
    const token = await idp.token();
    expect((await upload(svc, token)).status).to.equal(200);

    // Down: the keys grow old, the refreshes fail; every token they verify is still served.
    await idp.stop();
    const before = svc.lines().length;
    const since = (): LogLine[] => svc.lines().slice(before);
    const statuses: number[] = [];
    await waitFor(async () => {
      statuses.push((await upload(svc, token)).status);
      return since().some((l) => l.msg.startsWith('token issuer unreachable'));
    }, 'the outage in the log', { timeoutMs: 60_000, intervalMs: 100 });
    const failed = since().find((l) => l.msg.startsWith('token issuer unreachable'))!;
    expect(failed.msg).to.equal('token issuer unreachable; tokens are verified with the keys fetched earlier meanwhile');
    expect(failed.keysUsableForMs).to.be.a('number').and.above(3_000_000);
    statuses.push((await upload(svc, token)).status);
    expect(new Set(statuses)).to.deep.equal(new Set([200]));

    // Back: the next refresh finds it, and says so once.
    await idp.start();
    await waitFor(async () => {
      statuses.push((await upload(svc, token)).status);
      return since().some((l) => l.msg === 'token issuer reachable again');
    }, 'the recovery in the log', { timeoutMs: 60_000, intervalMs: 100 });
    expect(new Set(statuses)).to.deep.equal(new Set([200]));
    // One line each, however many refreshes failed in between.
    expect(since().filter((l) => l.msg.startsWith('token issuer')).map((l) => l.msg)).to.deep.equal([
      'token issuer unreachable; tokens are verified with the keys fetched earlier meanwhile',
      'token issuer reachable again',
    ]);
  });
});
