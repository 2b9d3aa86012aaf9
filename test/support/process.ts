/**
 * The real service as a child process (`src/main.ts`), for what only a whole process shows:
 * signals, resident memory, libuv's thread pool shared by every decode.
 *
 * ```ts
 * const svc = await spawnService({ MAX_INFLIGHT: '1' });
 * const memory = sampleResidentMemory(svc.child.pid!);
 * ...
 * memory.stop(); // → { peakBytes }
 * await svc.stop();
 * ```
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { rootDir } from '../../src/spec.js';

/** A started service. */
export interface SpawnedService {
  readonly child: ChildProcess;
  readonly url: string;
  /** `127.0.0.1:<port>` of the gRPC server, when `env` gave it a `GRPC_PORT`. */
  readonly grpcAddress: string | undefined;
  readonly exited: Promise<number | null>;
  /** Everything it wrote on stdout and stderr so far. */
  readonly output: () => string;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

/**
 * Spawns the service on a free loopback port, without auth unless `env` says otherwise, and
 * resolves once it logged `ready` (so `LOG_LEVEL` must stay at `info` or below).
 *
 * `node --import tsx`, not the `tsx` command: the command runs the program in a child process
 * and relays SIGTERM to it, but sends SIGKILL when the child has not acknowledged the signal
 * within 30 ms — which a child busy classifying does not. Under load that kills the drain.
 */
export async function spawnService(env: Record<string, string>, readyWithinMs = 60_000): Promise<SpawnedService> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: rootDir,
    env: { ...process.env, AUTH_DISABLED: 'true', PORT: '0', GRPC_PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  // 'close', not 'exit': the output may still be in the pipes when the process has exited.
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      clearInterval(poll);
      child.kill('SIGKILL');
      reject(new Error(`not ready within ${readyWithinMs} ms:\n${out}`));
    }, readyWithinMs);
    const poll = setInterval(() => {
      const listening = /"port":(\d+),"msg":"listening"/.exec(out);
      if (listening && out.includes('"msg":"ready"')) {
        clearInterval(poll);
        clearTimeout(timer);
        resolve(Number(listening[1]));
      }
    }, 50);
    void exited.then((code) => {
      clearInterval(poll);
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before ready:\n${out}`));
    });
  });
  const grpcPort = /"grpcPort":(\d+),"msg":"gRPC listening"/.exec(out)?.[1];
  return {
    child,
    url: `http://127.0.0.1:${port}`,
    grpcAddress: grpcPort === undefined ? undefined : `127.0.0.1:${grpcPort}`,
    exited,
    output: () => out,
    stop: () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** A field of `/proc/<pid>/status` in kB (`VmRSS`, `VmHWM`), in bytes. */
function statusBytes(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1];
  if (kb === undefined) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(kb) * 1024;
}

/** Resident memory of a process now, in bytes. */
export function residentBytes(pid: number): number {
  return statusBytes(pid, 'VmRSS');
}

/** Samples a process's resident memory until stopped. */
export interface MemorySampler {
  /** Stops; the peak is the larger of the samples' and the kernel's high-water mark (`VmHWM`). */
  stop(): { readonly peakBytes: number; readonly samples: number };
}

/**
 * Samples `VmRSS` every `everyMs`, and reads `VmHWM` (the kernel's own peak, which no sampling
 * can miss) when stopped. `VmHWM` covers the process's whole life: start it after warm-up reads
 * the baseline, not before.
 */
export function sampleResidentMemory(pid: number, everyMs = 25): MemorySampler {
  let peak = residentBytes(pid);
  let samples = 1;
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, residentBytes(pid));
      samples++;
    } catch {
      // The process has exited.
    }
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      try {
        peak = Math.max(peak, statusBytes(pid, 'VmHWM'));
      } catch {
        // The process has exited: the samples are all there is.
      }
      return { peakBytes: peak, samples };
    },
  };
}

/** The answer to one upload and how long it took. */
export interface Answered {
  readonly status: number;
  readonly ms: number;
  readonly body: Record<string, unknown>;
  readonly headers: Headers;
}

/** POSTs `bytes` as the `file` part of `/upload` (with `query`, such as `?version=2`) and reads the whole answer. */
export async function upload(url: string, bytes: Uint8Array, filename = 'image', query = ''): Promise<Answered> {
  const form = new FormData();
  form.append('file', new Blob([bytes]), filename);
  const started = performance.now();
  const res = await fetch(`${url}/upload${query}`, { method: 'POST', body: form });
  const text = await res.text();
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    body = { text };
  }
  return { status: res.status, ms: performance.now() - started, body, headers: res.headers };
}
