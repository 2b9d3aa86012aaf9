/**
 * `make dev` as a child process (`scripts/dev.ts`: the identity provider and the service with the
 * real default model, the web page served at `/`), on free loopback ports, for tests that need
 * the whole thing as a person runs it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import path from 'node:path';
import { rootDir } from '../../src/spec.js';

/** A running `make dev`. */
export interface DevServer {
  /** The service and its page, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  /** The identity provider, e.g. `http://127.0.0.1:41235`. */
  readonly issuer: string;
  /** Everything both processes printed so far (for failure messages). */
  output(): string;
  /** Ctrl-C, as a person would; waits for both processes to exit. */
  stop(): Promise<void>;
}

/** A port nobody listens on right now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

/** Starts `scripts/dev.ts` and waits until the service is ready (model warmed up), at most `timeoutMs`. */
export async function startDev(env: Readonly<Record<string, string>> = {}, timeoutMs = 150_000): Promise<DevServer> {
  const [port, idpPort] = [await freePort(), await freePort()];
  let output = '';
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', path.join(rootDir, 'scripts', 'dev.ts')], {
    cwd: rootDir,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PORT: String(port), GRPC_PORT: '0', IDP_PORT: String(idpPort), LOG_LEVEL: 'warn', ...env },
  });
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGINT');
    const stopped = await Promise.race([exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 30_000))]);
    // scripts/dev.ts kills the service when it exits, whichever way.
    if (!stopped) child.kill('SIGTERM');
    await exited;
  };

  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`make dev exited with status ${child.exitCode}:\n${output}`);
    try {
      const res = await fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(2_000) });
      await res.arrayBuffer();
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`make dev was not ready within ${timeoutMs} ms:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return { url, issuer: `http://127.0.0.1:${idpPort}`, output: () => output, stop };
}
