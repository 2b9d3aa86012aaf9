/**
 * `make prod-smoke`: the Dockerfile's production start-up, without Docker.
 *
 * Like the image's runtime stage, on the image's Node.js (the major of the Dockerfile's
 * `FROM node:<major>-…`, obtained by scripts/image-node.ts: the running node when it is that
 * major, else the newest release of it from the npm registry, cached in node_modules/.cache) with
 * the stage's `ENV`: a clean folder with `package.json`, the lock file and `.npmrc`;
 * `npm ci --omit=dev` (npm running on that Node); the built `dist/` (`make build`), the spec and
 * the model files of `resources/models/`; then `node dist/src/main.js` with OAuth2 settings
 * pointing at a local identity provider (the one `make dev` uses). Checks, in order: `/health`
 * answers `{"status":"OK"}`; `GET /` serves the web page and its script, and `/ui/config` its
 * client; the built `predict` command, run from that folder with a real token, classifies
 * `resources/samples/cat.png` as Cat; an upload without a token is answered 401; the process
 * stops with status 0 on SIGTERM (the image's STOPSIGNAL); started again with
 * `INT8_WEIGHTS=unsigned` (what a CPU without VNNI runs), it gives the same values bit for bit.
 * Also checks that the image's `LD_PRELOAD` (its allocator, jemalloc) is loaded into the service.
 * Prints the resident memory of the service (the figures behind deploy/'s resource requests).
 *
 * Environment: `KEEP=1` keeps the folder.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { catImagePath } from '../test/fixtures/course-images.js';
import { startIdentityProvider } from '../test/fixtures/identity-provider.js';
import { imageNode, readImageRuntime } from './image-node.js';
import { credentials, loadPackageDefinition, type ChannelCredentials, type Client } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const step = (text: string): void => void process.stdout.write(`prod-smoke: ${text}\n`);

function run(command: string, args: string[], cwd: string, env?: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** grpc.health.v1 Check of the whole server, as a Kubernetes `grpc:` probe calls it: the status, or the error. */
async function grpcHealthCheck(address: string): Promise<string> {
  const Health = loadPackageDefinition(loadSync(healthProtoPath, { keepCase: true, enums: String })).grpc as unknown as {
    health: { v1: { Health: new (address: string, creds: ChannelCredentials) => Client & { Check: (r: object, cb: (e: Error | null, v?: { status: string }) => void) => void } } };
  };
  const client = new Health.health.v1.Health(address, credentials.createInsecure());
  try {
    return await new Promise((resolve) => client.Check({ service: '' }, (err, value) => resolve(err ? err.message : String(value?.status))));
  } finally {
    client.close();
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function waitForHealth(url: string, service: ChildProcess, timeoutMs: number, route = '/health'): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (service.exitCode !== null) throw new Error(`the service exited with status ${service.exitCode} during start-up`);
    try {
      const res = await fetch(`${url}${route}`, { signal: AbortSignal.timeout(2_000) });
      if (res.ok) return await res.text();
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`no answer from ${url}${route} within ${timeoutMs} ms`);
}

/** Resident memory now and at its peak, in MiB (Linux `/proc`). */
async function memoryMiB(pid: number): Promise<{ rss: number; peak: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rss: Math.round(kib('VmRSS') / 1024), peak: Math.round(kib('VmHWM') / 1024) };
}

/** Whether the process has loaded the shared library named `library` (as `LD_PRELOAD` names it). */
async function hasLoaded(pid: number, library: string): Promise<boolean> {
  const maps = await readFile(`/proc/${pid}/maps`, 'utf8');
  return maps.split('\n').some((line) => line.endsWith(`/${library}`));
}

/** How the service's log line of the default model's loaded version says the int8 weights run. */
function loadedInt8Weights(log: string): string | undefined {
  const line = log.split('\n').find((l) => l.includes('"msg":"model version loaded"') && l.includes('"model":"catdog"'));
  return line === undefined ? undefined : (JSON.parse(line) as { int8Weights?: string }).int8Weights;
}

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(what);
  step(`ok: ${what}`);
}

async function main(): Promise<void> {
  const started = Date.now();
  const image = readImageRuntime();
  let node: string;
  try {
    node = await imageNode(image.nodeMajor, step);
  } catch (err) {
    // What was tried and how to fix it (scripts/image-node.ts says both).
    process.stderr.write(`prod-smoke: FAILED: ${(err as Error).message}\n`);
    process.exitCode = 1;
    return;
  }
  // PATH first: npm (a script run by `node`) and anything it starts run on the image's Node too.
  const PATH = `${path.dirname(node)}${path.delimiter}${process.env.PATH ?? ''}`;
  const nodeVersion = (await run(node, ['--version'], root)).stdout.trim();
  step(`Node ${nodeVersion} (the image's: node:${image.nodeMajor}), ENV ${Object.entries(image.env).map(([k, v]) => `${k}=${v}`).join(' ')}`);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cdo-prod-'));
  let service: ChildProcess | undefined;
  let unsigned: ChildProcess | undefined;
  const idp = await startIdentityProvider();
  let log = '';
  try {
    step(`packaging into ${dir}`);
    for (const file of ['package.json', 'package-lock.json', '.npmrc']) await cp(path.join(root, file), path.join(dir, file));
    const ci = await run('npm', ['ci', '--omit=dev', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], dir, { ...process.env, PATH });
    if (ci.code !== 0) throw new Error(`npm ci --omit=dev failed:\n${ci.stderr}`);
    step(`npm ci --omit=dev done (${Math.round((Date.now() - started) / 1000)} s)`);
    await cp(path.join(root, 'dist'), path.join(dir, 'dist'), { recursive: true });
    await cp(path.join(root, 'openapi'), path.join(dir, 'openapi'), { recursive: true });
    await cp(path.join(root, 'proto'), path.join(dir, 'proto'), { recursive: true });
    await mkdir(path.join(dir, 'resources'), { recursive: true });
    await cp(path.join(root, 'resources', 'models'), path.join(dir, 'resources', 'models'), { recursive: true });

    const port = await freePort();
    const grpcPort = await freePort();
    const url = `http://127.0.0.1:${port}`;
    service = spawn(node, ['dist/src/main.js'], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        PATH,
        ...image.env,
        PORT: String(port),
        GRPC_PORT: String(grpcPort),
        HOST: '127.0.0.1',
        OAUTH2_ISSUER: idp.issuer,
        OAUTH2_AUDIENCE: idp.audience,
        OAUTH2_UI_CLIENT_ID: 'ui-client',
      },
    });
    service.stdout!.on('data', (d: Buffer) => (log += d.toString()));
    service.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    const t0 = Date.now();
    const health = await waitForHealth(url, service, 60_000);
    check(health === '{"status":"OK"}', `GET /health answered ${health} after ${Date.now() - t0} ms`);
    const idle = await memoryMiB(service.pid!);
    // The image preloads its allocator (jemalloc): the throughput and memory figures assume it.
    // Where the library is missing the loader only warns and glibc's malloc runs instead.
    const preload = image.env.LD_PRELOAD;
    if (preload !== undefined) {
      const loaded = await hasLoaded(service.pid!, preload);
      check(loaded, `the image's allocator ${preload} (LD_PRELOAD) is ${loaded ? 'loaded' : 'not loaded: install it (Debian: apt-get install libjemalloc2)'}`);
    }

    // The web page comes with dist/ (make build bundles it): served, with its script, under a CSP.
    const page = await fetch(`${url}/`);
    const html = await page.text();
    const script = /<script type="module" src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    const scriptStatus = script === undefined ? 0 : (await fetch(`${url}${script}`).then(async (r) => (await r.arrayBuffer(), r.status)));
    check(
      page.status === 200 && /frame-ancestors 'none'/.test(page.headers.get('content-security-policy') ?? '') && scriptStatus === 200,
      `GET / serves the web page (${page.status}, CSP ${page.headers.has('content-security-policy') ? 'set' : 'missing'}) and its script ${script} (${scriptStatus})`,
    );
    // The gRPC server starts with the HTTP one: its health service answers as /health/ready does,
    // SERVING once the model is loaded and warmed up (as a Kubernetes grpc: readiness probe waits).
    const grpcStarted = Date.now();
    let grpcHealth = await grpcHealthCheck(`127.0.0.1:${grpcPort}`);
    while (grpcHealth === 'NOT_SERVING' && Date.now() - grpcStarted < 60_000) {
      await new Promise((r) => setTimeout(r, 250));
      grpcHealth = await grpcHealthCheck(`127.0.0.1:${grpcPort}`);
    }
    check(grpcHealth === 'SERVING', `grpc.health.v1 Check on :${grpcPort} answered ${grpcHealth} after ${Date.now() - grpcStarted} ms more`);
    const ui = (await (await fetch(`${url}/ui/config`)).json()) as { auth?: { client_id?: string } };
    check(ui.auth?.client_id === 'ui-client', `GET /ui/config names the page's client: ${JSON.stringify(ui)}`);

    const token = await idp.token();
    const predictCat = () =>
      run(node, ['dist/src/client/cli.js', catImagePath, '--url', url, '--token', token, '--json'], dir, { PATH, ...image.env });
    let predict = await predictCat();
    // On a starved machine the issuer's discovery, started during the CPU-bound start-up, can
    // outlast OAUTH2_HTTP_TIMEOUT_MS; the service then answers 503 auth-unavailable until
    // OAUTH2_JWKS_COOLDOWN_MS (30 s) allows another attempt. A client retries; so does this.
    for (let retries = 0; /"status":503/.test(predict.stdout) && retries < 8; retries++) {
      step(`WARNING: 503 on upload (${predict.stdout.trim()}); retrying in 5 s`);
      await new Promise((r) => setTimeout(r, 5_000));
      predict = await predictCat();
    }
    const answer = JSON.parse(predict.stdout || '{}') as { prediction?: string; values?: number[] };
    check(
      predict.code === 0 && answer.prediction === 'Cat',
      `predict ${path.basename(catImagePath)} with a token: ${predict.stdout.trim()}${predict.stderr}`,
    );

    // A small body: the service refuses before reading an upload and closes the connection.
    const form = new FormData();
    form.append('file', new Blob([Buffer.from('no token')]), 'cat.png');
    const anonymousUpload = () => fetch(`${url}/upload`, { method: 'POST', body: form });
    const anonymous = await anonymousUpload().catch((err: Error) => {
      step(`WARNING: POST /upload without a token: ${err.message} (${String(err.cause)}); retrying once`);
      return anonymousUpload();
    });
    const problem = (await anonymous.json()) as { code?: string };
    check(anonymous.status === 401, `POST /upload without a token answered ${anonymous.status} ${problem.code}`);

    // A bounded burst (8 at a time, 32 in all) so that the peak memory includes the busy state.
    const burst = await Promise.all(
      Array.from({ length: 8 }, async () => {
        const statuses: number[] = [];
        for (let i = 0; i < 4; i++) {
          const body = new FormData();
          body.append('file', new Blob([await readFile(catImagePath)]), 'cat.png');
          const res = await fetch(`${url}/upload`, { method: 'POST', body, headers: { authorization: `Bearer ${token}` } });
          await res.arrayBuffer();
          statuses.push(res.status);
        }
        return statuses;
      }),
    );
    const answered = burst.flat();
    check(answered.every((s) => s === 200 || s === 503), `a burst of ${answered.length} uploads, 8 at a time: ${answered.filter((s) => s === 200).length} classified, ${answered.filter((s) => s === 503).length} answered 503 overloaded`);
    const memory = await memoryMiB(service.pid!);
    step(`memory of the service: RSS ${idle.rss} MiB once started, ${memory.rss} MiB after the burst, peak ${memory.peak} MiB`);

    const exited = new Promise<number | null>((resolve) => service!.once('exit', (code) => resolve(code)));
    const stopAt = Date.now();
    service.kill('SIGTERM');
    const code = await Promise.race([exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 30_000))]);
    check(code === 0, `SIGTERM: exited with status ${code} after ${Date.now() - stopAt} ms`);
    const chosen = loadedInt8Weights(log);
    step(`INT8_WEIGHTS=auto ran the int8 weights ${chosen ?? '(not logged)'} on this CPU`);

    // A CPU without VNNI re-types the int8 weights as uint8 at start-up (INT8_WEIGHTS=auto): that
    // path, forced here, must start from the built output and give the very same answer.
    const firstLog = log.length;
    const port2 = await freePort();
    unsigned = spawn(node, ['dist/src/main.js'], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH, ...image.env, PORT: String(port2), GRPC_PORT: '0', HOST: '127.0.0.1', AUTH_DISABLED: 'true', INT8_WEIGHTS: 'unsigned' },
    });
    unsigned.stdout!.on('data', (d: Buffer) => (log += d.toString()));
    unsigned.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    // Ready, not only live: the model loads after the server listens.
    await waitForHealth(`http://127.0.0.1:${port2}`, unsigned, 60_000, '/health/ready');
    const body = new FormData();
    body.append('file', new Blob([await readFile(catImagePath)]), path.basename(catImagePath));
    const again = (await (await fetch(`http://127.0.0.1:${port2}/upload`, { method: 'POST', body })).json()) as { values?: number[] };
    check(
      loadedInt8Weights(log.slice(firstLog)) === 'unsigned' && JSON.stringify(again.values) === JSON.stringify(answer.values),
      `INT8_WEIGHTS=unsigned: the same values, bit for bit (${JSON.stringify(again.values)})`,
    );
    unsigned.kill('SIGTERM');
    step(`passed in ${Math.round((Date.now() - started) / 1000)} s`);
  } catch (err) {
    const cause = (err as { cause?: unknown }).cause;
    const because = cause instanceof Error ? ` (${String(cause)})` : cause === undefined ? '' : ` (${JSON.stringify(cause)})`;
    process.stderr.write(`prod-smoke: FAILED: ${(err as Error).message}${because}\n--- service output ---\n${log}\n`);
    process.exitCode = 1;
  } finally {
    for (const child of [service, unsigned]) if (child && child.exitCode === null) child.kill('SIGKILL');
    await idp.close();
    if (process.env.KEEP) step(`kept ${dir}`);
    else await rm(dir, { recursive: true, force: true });
  }
}

await main();
