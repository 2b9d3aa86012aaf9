/** Child processes of the benchmark: servers started and stopped by PID, the load generator and other JSON-line tools, /proc figures. */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { rootDir } from '../../src/spec.js';
import { readImageRuntime } from '../image-node.js';
import type { LoadResult } from './load.js';

const scriptDir = path.dirname(new URL(import.meta.url).pathname);

/** The labelled development photos beside the checkout, which `make bench` and `make bench-memory` send. */
export const benchImageDir = path.resolve(rootDir, '..', 'shared', 'data', 'cats-dogs-others', 'images');

/** A server started by the benchmark. */
export interface Server {
  readonly name: string;
  readonly pid: number;
  readonly port: number;
  stop(): Promise<void>;
}

/** Resident memory and CPU time of a process, from /proc (Linux). */
export interface ProcessFigures {
  readonly rssMiB: number;
  readonly peakRssMiB: number;
  /** User + system CPU time since the process started, in milliseconds. */
  readonly cpuMs: number;
}

const CLOCK_TICKS_PER_S = 100;

/** Reads `pid`'s figures; for a multi-threaded process they cover every thread. */
export function processFigures(pid: number): ProcessFigures {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  // Fields 14 and 15 of /proc/PID/stat (utime, stime), counted after the parenthesised name.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return { rssMiB: kib('VmRSS') / 1024, peakRssMiB: kib('VmHWM') / 1024, cpuMs: (ticks * 1000) / CLOCK_TICKS_PER_S };
}

async function waitForHttp(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${url}: the server exited with code ${child.exitCode}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs} ms`);
}

/**
 * Starts `command` (which must become the server process itself, e.g. via exec), waits until
 * `readyPath` answers 200, and returns a handle that stops it by PID.
 */
export async function startServer(
  name: string,
  command: string,
  args: readonly string[],
  port: number,
  readyPath: string,
  env: NodeJS.ProcessEnv,
  cwd?: string,
): Promise<Server> {
  const child = spawn(command, args, { env, cwd, stdio: ['ignore', 'ignore', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await waitForHttp(`http://127.0.0.1:${port}${readyPath}`, child, 120_000);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return {
    name,
    pid: child.pid!,
    port,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Runs a tool that prints one JSON line on stdout; rejects if it fails or prints none. */
export function runJson<T>(command: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      const line = out.trim().split('\n').at(-1);
      if (code !== 0 || !line) return reject(new Error(`${command} ${args.join(' ')} exited with ${code}`));
      resolve(JSON.parse(line) as T);
    });
  });
}

/**
 * The environment the benchmark runs the service with: the Docker image's `ENV` (its memory
 * settings among them: the service as shipped), under the caller's environment (to compare, e.g.
 * `MALLOC_ARENA_MAX= make bench-memory`); no tokens, loopback, no request log lines; and a
 * connection budget that lets its one client address hold c=64 and more (by default one address
 * may hold 32 of 64 connections).
 */
export function benchServiceEnv(port: number, extra: Readonly<Record<string, string>> = {}): NodeJS.ProcessEnv {
  const { PORT: _port, HOST: _host, ...image } = readImageRuntime().env;
  return {
    ...image,
    ...process.env,
    AUTH_DISABLED: 'true',
    HOST: '127.0.0.1',
    PORT: String(port),
    LOG_LEVEL: 'warn',
    MAX_CONNECTIONS: '256',
    MAX_CONNECTIONS_PER_ADDRESS: '256',
    // No gRPC server unless a bench asks for one (scripts/bench/grpc.ts): 8081 may be taken.
    GRPC_PORT: '0',
    ...extra,
  };
}

/** Runs the load generator (`load.js`) against `port`'s `/upload` with the bench images; resolves with its figures. */
export function runLoad(port: number, concurrency: number, ...args: string[]): Promise<LoadResult> {
  return runJson<LoadResult>(process.execPath, [
    path.join(scriptDir, 'load.js'),
    '--url', `http://127.0.0.1:${port}/upload`,
    '-c', String(concurrency),
    ...args,
    benchImageDir,
  ]);
}

/** The model the service serves by default, whose V2 `infer` route the benchmark calls. */
const V2_MODEL = 'catdog';

/** Runs the load generator against `port`'s V2 `infer` route, `batch` images per binary request. */
export function runV2Load(port: number, concurrency: number, batch: number, ...args: string[]): Promise<LoadResult> {
  return runJson<LoadResult>(process.execPath, [
    path.join(scriptDir, 'load.js'),
    '--url', `http://127.0.0.1:${port}/v2/models/${V2_MODEL}/infer`,
    '--v2-batch', String(batch),
    '-c', String(concurrency),
    ...args,
    benchImageDir,
  ]);
}
