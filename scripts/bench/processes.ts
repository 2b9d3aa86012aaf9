/** Child processes of the benchmark: servers started and stopped by PID, the load generator and other JSON-line tools, /proc figures. */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { rootDir } from '../../src/spec.js';
import { MEMORY_ENV, readImageRuntime } from '../image-node.js';
import type { LoadResult } from './load.js';
import { CLOCK_TICKS_PER_S } from './threads.js';

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

/** The fields of /proc/PID/stat after the parenthesised name (state is [0], ppid [1], utime [11], stime [12]). */
function statFields(pid: number): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** Reads `pid`'s figures; for a multi-threaded process they cover every thread. */
export function processFigures(pid: number): ProcessFigures {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  const fields = statFields(pid);
  const ticks = Number(fields[11]) + Number(fields[12]);
  return { rssMiB: kib('VmRSS') / 1024, peakRssMiB: kib('VmHWM') / 1024, cpuMs: (ticks * 1000) / CLOCK_TICKS_PER_S };
}

/** `pid` and its descendants now living (Linux): a server with worker processes, such as uvicorn's `--workers`. */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const ppid = Number(statFields(Number(entry))[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // exited meanwhile
    }
  }
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) tree.push(...(children.get(tree[i]!) ?? []));
  return tree;
}

/**
 * The figures of `pid` and its living descendants, summed: CPU over every process (a worker that
 * exited meanwhile takes its CPU with it), resident memory and the peaks of each added up (an
 * upper bound of the tree's peak).
 */
export function processTreeFigures(pid: number): ProcessFigures {
  const total = { rssMiB: 0, peakRssMiB: 0, cpuMs: 0 };
  for (const p of processTree(pid)) {
    try {
      const f = processFigures(p);
      total.rssMiB += f.rssMiB;
      total.peakRssMiB += f.peakRssMiB;
      total.cpuMs += f.cpuMs;
    } catch (err) {
      if (p === pid) throw err;
    }
  }
  return total;
}

async function waitForHttp(url: string, child: ChildProcess, timeoutMs: number, stderrTail: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`the server exited with ${child.exitCode ?? child.signalCode} before ${url} answered${stderrTail()}`);
    }
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs} ms${stderrTail()}`);
}

/** How {@link startServer} starts a server. */
export interface StartOptions {
  readonly cwd?: string;
  /** How long the server may take to answer `readyPath`, in milliseconds (default 120,000). */
  readonly readyTimeoutMs?: number;
  /**
   * Keep the server's standard error instead of passing it through, and quote its last `n` lines
   * when it fails to start (a peer whose installer is chatty on success). Default: pass it through.
   */
  readonly stderrTailLines?: number;
}

/**
 * Starts `command` (which must become the server process itself, e.g. via exec), waits until
 * `readyPath` answers 200, and returns a handle that stops it by PID. Rejects, the server
 * killed, when it exits or does not answer in time.
 */
export async function startServer(
  name: string,
  command: string,
  args: readonly string[],
  port: number,
  readyPath: string,
  env: NodeJS.ProcessEnv,
  options: StartOptions | string = {},
): Promise<Server> {
  const { cwd, readyTimeoutMs = 120_000, stderrTailLines } = typeof options === 'string' ? { cwd: options } : options;
  const keep = stderrTailLines !== undefined;
  // A process group of its own, so that a server that fails to start is killed with what it
  // started (an installer, worker processes).
  const child = spawn(command, args, { env, cwd, detached: true, stdio: ['ignore', 'ignore', keep ? 'pipe' : 'inherit'] });
  const killGroup = (): void => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // gone already
    }
  };
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-16_384);
  });
  const tail = (): string => {
    const lines = stderr.trim().split('\n').filter(Boolean).slice(-(stderrTailLines ?? 0));
    return lines.length ? `; its last lines on stderr:\n    ${lines.join('\n    ')}` : '';
  };
  // A spawn failure (no such command) surfaces as an exit code of its own.
  child.once('error', (err) => (stderr += `\n${err.message}`));
  try {
    await waitForHttp(`http://127.0.0.1:${port}${readyPath}`, child, readyTimeoutMs, tail);
  } catch (err) {
    killGroup();
    await Promise.race([exited, new Promise((r) => setTimeout(r, 2000))]);
    throw err;
  }
  return {
    name,
    pid: child.pid!,
    port,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      // The server itself, which stops its workers; the whole group if it takes too long.
      child.kill('SIGTERM');
      const timer = setTimeout(killGroup, 15_000);
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

/** The settings of `env` that move the service's memory (the image's allocator, glibc's and V8's), `null` where unset: recorded with memory figures. */
export function memorySettings(env: NodeJS.ProcessEnv): Record<string, string | null> {
  return Object.fromEntries(MEMORY_ENV.map((name) => [name, env[name] || null]));
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
  return runLoadOn(benchImageDir, port, concurrency, ...args);
}

/** Runs the load generator against `port`'s `/upload` with the images of `images`. */
export function runLoadOn(images: string, port: number, concurrency: number, ...args: string[]): Promise<LoadResult> {
  return runJson<LoadResult>(process.execPath, [
    path.join(scriptDir, 'load.js'),
    '--url', `http://127.0.0.1:${port}/upload`,
    '-c', String(concurrency),
    ...args,
    images,
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
